import Foundation
import PeerDistCollaboration
import PeerDistHashing
import PeerDistMirror
import PeerDistWire

/// Carries out a `PeopleRequest` on a node: the control socket's half of Peer Collaboration.
struct PeopleControl: Sendable {
    let node: PeerNode
    var collaboration: Collaboration { node.collaboration }
    var book: CollaborationBook { node.collaboration.book }

    func perform(_ request: PeopleRequest, emit: @escaping @Sendable (ControlEvent) -> Void) async throws -> PeopleReply {
        var reply = PeopleReply()
        switch request {
        case .me:
            reply.me = meListing()
        case .setMe(let name, let nickname, let email):
            let current = book.me
            let details = try PersonDetails(
                displayName: name ?? current.displayName, nickname: nickname ?? current.nickname, email: email ?? current.email)
            try collaboration.setMe(details)
            reply.me = meListing()
        case .card(let endpoints):
            reply.card = collaboration.card(endpoints: endpoints).uri
        case .addContact(let text, let fingerprint, let expected):
            let card: ContactCard
            if let text {
                card = try ContactCard(parsing: text, expectedFingerprint: expected)
            } else if let fingerprint {
                card = try await collaboration.fetchCard(fingerprint: fingerprint)
            } else {
                throw CollaborationError(.invalidValue, "name a card, a card file or a fingerprint")
            }
            guard card.key != node.identity.publicKey else { throw CollaborationError(.invalidValue, "that is your own card") }
            let (contact, isNew) = try book.add(card)
            reply.contacts = [listing(contact)]
            reply.added = isNew
            var event = CollaborationEvent(.contact, fingerprint: contact.fingerprint, name: contact.displayName)
            event.change = isNew ? "added" : "changed"
            collaboration.emit(event)
        case .contacts:
            reply.contacts = book.contacts.map(listing)
        case .showContact(let query):
            reply.contacts = [listing(try book.resolve(query))]
        case .removeContact(let query):
            let contact = try book.removeContact(query)
            reply.contacts = [listing(contact)]
            var event = CollaborationEvent(.contact, fingerprint: contact.fingerprint, name: contact.displayName)
            event.change = "removed"
            collaboration.emit(event)
        case .setContact(let query, let mayWatchMe, let watchThem, let mayInvite):
            let contact = try book.updateContact(query) { contact in
                if let mayWatchMe { contact.mayWatchMe = mayWatchMe }
                if let watchThem { contact.watchThem = watchThem }
                if let mayInvite { contact.mayInvite = mayInvite }
            }
            // A watcher just blocked hears it at once.
            collaboration.localChanges.yield(())
            reply.contacts = [listing(contact)]
        case .setPresence(let status, let note):
            try collaboration.setPresence(status, note: note)
            reply.presence = presenceListings()
        case .presence:
            reply.presence = presenceListings()
        case .setNearMe(let on):
            try collaboration.setNearMe(on)
            reply.me = meListing()
        case .near:
            reply.near = collaboration.nearMe.list { book.contact(for: $0) != nil }
        case .setObject(let name, let data, let scope):
            try book.setObject(try PublishedObject(name: name, data: data, scope: scope))
            collaboration.localChanges.yield(())
            reply.objects = book.objects.map(Self.listing)
        case .removeObject(let name):
            try book.removeObject(named: name)
            collaboration.localChanges.yield(())
            reply.objects = book.objects.map(Self.listing)
        case .objects(let query):
            if let query {
                let contact = try book.resolve(query)
                reply.objects = try await collaboration.objects(of: contact).map {
                    ObjectListing(name: $0.name, size: Int($0.size), scope: $0.scope, sha256: Hex.encode($0.digest))
                }
            } else {
                reply.objects = book.objects.map(Self.listing)
            }
        case .getObject(let query, let name):
            let object = try await collaboration.object(named: name, of: try book.resolve(query))
            var listing = Self.listing(object)
            listing.data = object.data
            reply.object = listing
        case .invite(let query, let subject, let message, let wait):
            let contact = try book.resolve(query)
            let invitation = try Invitation(subject: subject, message: message, lifetime: book.settings.invitationLifetime)
            for try await outcome in collaboration.invite(contact, invitation) {
                reply.outcome = outcome
                if outcome != .pending || !wait { break }
            }
            if reply.outcome == nil { throw NodeError(.unreachable, "\(contact.displayName)'s node closed the connection before the invitation arrived") }
        case .invitations:
            reply.invitations = collaboration.inbox.pending.map(\.listing)
        case .acceptInvitation(let number, let output):
            reply.launch = try await accept(number, output: output, emit: emit)
            reply.outcome = .accepted
        case .declineInvitation(let number):
            _ = try collaboration.inbox.decide(number, .declined)
            reply.outcome = .declined
        case .setInvitations(let policy, let lifetime):
            if let lifetime, !(1...Invitation.maximumLifetime).contains(lifetime) {
                throw CollaborationError(.invalidValue, "an invitation lasts 1 s to 7 days, not \(lifetime) s")
            }
            try book.updateSettings { settings in
                if let policy { settings.invitationPolicy = policy }
                // Whole seconds: what an invitation carries.
                if let lifetime { settings.invitationLifetime = lifetime.rounded() }
            }
            reply.me = meListing()
        case .registerApplication(let name, let command):
            guard !name.isEmpty, name.count <= Invitation.maximumApplicationNameCharacters else {
                throw CollaborationError(.invalidValue, "application name \"\(name)\" is not 1 to \(Invitation.maximumApplicationNameCharacters) characters")
            }
            guard !command.trimmingCharacters(in: .whitespaces).isEmpty else { throw CollaborationError(.invalidValue, "the command is empty") }
            try book.updateSettings { $0.applications[name] = command }
            reply.applications = book.settings.applications
        case .applications:
            reply.applications = book.settings.applications
        case .removeApplication(let name):
            guard book.settings.applications[name] != nil else { throw CollaborationError(.notFound, "no application is registered as \(name)") }
            try book.updateSettings { $0.applications[name] = nil }
            reply.applications = book.settings.applications
        case .events:
            // Streamed by the control server, not answered once.
            break
        }
        return reply
    }

    /// Accepts invitation `number`: tells the sender, then fetches the content or follows the
    /// mirror into `output`, or hands back what the application needs to run.
    private func accept(_ number: Int, output: String?, emit: @escaping @Sendable (ControlEvent) -> Void) async throws -> ApplicationLaunch? {
        guard let pending = collaboration.inbox.entry(number) else {
            throw CollaborationError(.notFound, "no invitation number \(number) is waiting (see `peerdist invitations`)")
        }
        // Checked before answering: accepting what cannot be carried out would mislead the sender.
        switch pending.invitation.subject {
        case .content(let text):
            guard let id = ContentID(parsing: text) else { throw CollaborationError(.malformed, "the invitation's content ID \(text) does not parse") }
            guard let output else { throw CollaborationError(.invalidValue, "accepting content needs -o PATH") }
            let entry = try collaboration.inbox.decide(number, .accepted)
            _ = try await node.fetch(id: id, peers: [], hints: collaboration.addresses(of: entry.sender), output: output, replace: false) { update in
                var event = ControlEvent(event: .progress)
                event.heldBytes = update.heldBytes
                event.totalBytes = update.totalBytes
                event.receivedBytes = update.receivedBytes
                event.peer = update.peer
                emit(event)
            }
            return nil
        case .mirror(let text):
            let name = try MirrorName(parsing: text)
            guard let output else { throw CollaborationError(.invalidValue, "accepting a mirror needs -o DIRECTORY") }
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            } catch {
                throw NodeError(.io, "cannot create \(output): \(error.localizedDescription)")
            }
            _ = try node.mirrors.follow(name: name, directory: output)
            _ = try collaboration.inbox.decide(number, .accepted)
            return nil
        case .application(let application, let data):
            guard let command = book.settings.applications[application] else {
                throw CollaborationError(.notFound, "no application is registered as \(application); register it with `peerdist apps register \(application) --command …`")
            }
            let entry = try collaboration.inbox.decide(number, .accepted)
            return ApplicationLaunch(
                application: application, command: command, data: data, fingerprint: entry.sender.fingerprint, name: entry.senderName,
                message: entry.invitation.message)
        }
    }

    private func meListing() -> MeListing {
        let me = book.me
        let settings = book.settings
        return MeListing(
            displayName: me.displayName, nickname: me.nickname, email: me.email, fingerprint: node.identity.fingerprint,
            status: collaboration.presence.status, note: collaboration.presence.note, nearMe: settings.nearMe,
            invitationPolicy: settings.invitationPolicy, invitationLifetime: settings.invitationLifetime)
    }

    private func listing(_ contact: Contact) -> ContactListing {
        let watched = collaboration.watched.state(of: contact.key)
        return ContactListing(
            fingerprint: contact.fingerprint, displayName: contact.displayName, nickname: contact.nickname, mayWatchMe: contact.mayWatchMe,
            watchThem: contact.watchThem, mayInvite: contact.mayInvite, added: contact.added, cardExpires: contact.card.expires,
            endpoints: contact.card.endpoints, status: contact.watchThem ? (watched?.reachable == true ? watched?.presence?.status : .offline) : nil)
    }

    /// Mine first, then each watched contact's.
    private func presenceListings() -> [PresenceListing] {
        let mine = collaboration.presence
        var listings = [PresenceListing(
            fingerprint: node.identity.fingerprint, name: book.me.displayName, status: mine.status, note: mine.note, since: mine.date, isMe: true)]
        for contact in book.contacts where contact.watchThem {
            let state = collaboration.watched.state(of: contact.key)
            let reachable = state?.reachable == true
            listings.append(PresenceListing(
                fingerprint: contact.fingerprint, name: contact.displayName, status: reachable ? state?.presence?.status ?? .offline : .offline,
                note: reachable ? state?.presence?.note ?? "" : "", since: reachable ? state?.presence?.date : nil, isMe: false,
                reason: reachable ? nil : state?.reason ?? "not heard from yet"))
        }
        return listings
    }

    static func listing(_ object: PublishedObject) -> ObjectListing {
        let summary = object.summary
        return ObjectListing(name: object.name, size: object.data.count, scope: object.scope, sha256: Hex.encode(summary.digest))
    }

    /// The keys of the contacts `queries` name; `*` names them all.
    func audience(_ queries: [String]) throws -> Set<PeerKey>? {
        guard !queries.isEmpty else { return nil }
        if queries == ["*"] {
            let all = book.contacts
            guard !all.isEmpty else { throw CollaborationError(.notFound, "you have no contacts to share with (see `peerdist contacts add`)") }
            guard all.count <= CollaborationMessage.maximumAudience else {
                throw CollaborationError(.invalidValue, "\(all.count) contacts; private content can have at most \(CollaborationMessage.maximumAudience) readers")
            }
            return Set(all.map(\.key))
        }
        let keys = Set(try queries.map { query throws(CollaborationError) in try book.resolve(query).key })
        guard keys.count <= CollaborationMessage.maximumAudience else {
            throw CollaborationError(.invalidValue, "\(keys.count) readers; private content can have at most \(CollaborationMessage.maximumAudience)")
        }
        return keys
    }
}

extension PeerNode {
    /// Carries out `request` on this node directly: for commands run with no node running
    /// (those that need no network).
    public func people(_ request: PeopleRequest) async throws -> PeopleReply {
        try await PeopleControl(node: self).perform(request) { _ in }
    }

    /// The keys of the contacts `queries` name (fingerprints, display names or nicknames; `*`
    /// for all), or `nil` for none: the audience of `publish --to`.
    public func audience(_ queries: [String]) throws -> Set<PeerKey>? {
        try PeopleControl(node: self).audience(queries)
    }
}

extension PeopleRequest {
    /// Whether the request needs a running node (it talks to other nodes, or to the live state
    /// only a running node has); the others can be carried out on the data directory alone.
    public var needsRunningNode: Bool {
        switch self {
        case .addContact(let card, _, _): card == nil
        case .presence, .near, .getObject, .invite, .invitations, .acceptInvitation, .declineInvitation, .events: true
        case .objects(let contact): contact != nil
        case .me, .setMe, .card, .contacts, .showContact, .removeContact, .setContact, .setPresence, .setNearMe, .setObject, .removeObject,
             .setInvitations, .registerApplication, .applications, .removeApplication:
            false
        }
    }
}

extension PeerNode {
    /// Lets only `audience` follow the mirror named `name`.
    public func restrict(mirror name: String, to audience: Set<PeerKey>) throws {
        try collaboration.book.restrict(mirror: try MirrorName(parsing: name).discoveryKey.hex, to: audience)
    }
}
