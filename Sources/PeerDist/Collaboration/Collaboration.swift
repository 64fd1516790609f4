import Foundation
import Logging
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire
import Synchronization

/// A node's Peer Collaboration: the person behind it (their details, presence and objects), the
/// contacts they trust and what each may do, the people near them, and invitations both ways.
///
/// State that outlives the process is in the `CollaborationBook`; this object holds the live
/// part (the signed presence being served, the people heard, the contacts being watched, the
/// invitations waiting) and the rules: who may watch, read an object, send an invitation or
/// read private content.
public final class Collaboration: Sendable {
    public let book: CollaborationBook
    let identity: NodeIdentity
    let peerDirectory: PeerDirectory
    let logger: Logger
    public let nearMe = PeopleNearMe()
    /// What `peerdist events` streams.
    let events = Broadcast<CollaborationEvent>()
    /// "My presence or objects changed": each watching contact's connection sends an update.
    let localChanges = Broadcast<Void>()
    let inbox = InvitationInbox()
    let watched = WatchedContacts()
    let sentInvitations = SentInvitations()
    private let presenceState: PThreadMutex<(presence: Presence, clock: SequenceClock)>
    /// The port peers reach this node on, once it listens; 0 for a node that does not.
    private let listeningPort = PThreadMutex<UInt16>(0)
    /// When this node last answered a newcomer near me with its announcement.
    private let lastAnswer = PThreadMutex<ContinuousClock.Instant>(.now - .seconds(60))
    /// How often a watched node says it is still there, and how long a watcher waits before it
    /// calls a silent contact offline (three missed heartbeats).
    let heartbeatInterval: Duration

    init(dataDirectory: String, identity: NodeIdentity, peerDirectory: PeerDirectory, heartbeatInterval: Duration = .seconds(20), logger: Logger) throws(CollaborationError) {
        self.book = try CollaborationBook(directory: dataDirectory)
        self.identity = identity
        self.peerDirectory = peerDirectory
        self.heartbeatInterval = heartbeatInterval
        self.logger = logger
        var clock = SequenceClock()
        let settings = book.settings
        let presence = try Presence(status: settings.status, note: settings.note, identity: identity, sequence: clock.next())
        self.presenceState = PThreadMutex((presence, clock))
    }

    var silenceTimeout: Duration { heartbeatInterval * 3 }

    func listening(on port: Int) {
        listeningPort.withLock { $0 = UInt16(clamping: port) }
    }

    var port: UInt16 { listeningPort.withLock { $0 } }

    // MARK: Me

    public var me: PersonDetails { book.me }

    public func setMe(_ details: PersonDetails) throws(CollaborationError) {
        try book.setMe(details)
        if book.settings.nearMe { announceNearMe() }
    }

    /// My contact card, signed now, naming `endpoints` when given.
    public func card(endpoints: [String] = []) -> ContactCard {
        ContactCard(details: book.me, identity: identity, endpoints: endpoints)
    }

    // MARK: Presence

    public var presence: Presence { presenceState.withLock { $0.presence } }

    /// Sets my status and note, keeps them across restarts, and tells every watcher and, with
    /// People Near Me on, the LAN.
    public func setPresence(_ status: PresenceStatus, note: String) throws(CollaborationError) {
        try book.updateSettings {
            $0.status = status
            $0.note = note
        }
        try publishPresence(status, note: note)
    }

    private func publishPresence(_ status: PresenceStatus, note: String) throws(CollaborationError) {
        try presenceState.withLock { (state: inout (presence: Presence, clock: SequenceClock)) throws(CollaborationError) in
            state.presence = try Presence(status: status, note: note, identity: identity, sequence: state.clock.next())
        }
        localChanges.yield(())
        if book.settings.nearMe { announceNearMe() }
    }

    /// The node is stopping: watchers and the LAN hear "offline" (the book keeps the status the
    /// owner set, for the next start).
    func goOffline() {
        try? publishPresence(.offline, note: "")
        if book.settings.nearMe { announceNearMe(leaving: true) }
    }

    // MARK: People Near Me

    public func setNearMe(_ on: Bool) throws(CollaborationError) {
        try book.updateSettings { $0.nearMe = on }
        announceNearMe(leaving: !on)
        if !on { nearMe.forgetAll() }
    }

    /// Says who I am on the LAN (or, `leaving`, that I am gone); nothing from a node that does
    /// not listen, which no one could reach.
    func announceNearMe(leaving: Bool = false) {
        guard port != 0 else { return }
        let sequence = presenceState.withLock { $0.clock.next() }
        nearMe.send(NearMeAnnouncement(details: book.me, status: presence.status, port: port, leaving: leaving, identity: identity, sequence: sequence))
    }

    /// Takes an announcement from LAN discovery; a newcomer hears mine at once rather than at my
    /// next refresh (at most once a second, however many arrive together).
    func heardNearMe(_ bytes: [UInt8], from host: String) {
        let isNew = nearMe.heard(bytes, from: host, own: identity.publicKey)
        guard isNew, book.settings.nearMe else { return }
        let due = lastAnswer.withLock { last in
            guard ContinuousClock.now - last >= .seconds(1) else { return false }
            last = .now
            return true
        }
        if due { announceNearMe() }
    }

    // MARK: Rules

    func contact(for key: PeerKey) -> Contact? { book.contact(for: key) }

    /// Contacts allowed to watch me see my presence and all my objects.
    func mayWatch(_ key: PeerKey) -> Bool { book.contact(for: key)?.mayWatchMe == true }

    /// The objects `key` may read: all to a contact allowed to watch me, the near-me ones to
    /// anyone while People Near Me is on, none otherwise.
    func visibleObjects(for key: PeerKey) -> [PublishedObject] {
        if mayWatch(key) { return book.objects }
        guard book.settings.nearMe else { return [] }
        return book.objects.filter { $0.scope == .nearMe }
    }

    /// Whether my card goes to `key`: to contacts, and to anyone while People Near Me is on (the
    /// card says no more than the announcements do).
    func mayReadCard(_ key: PeerKey) -> Bool { book.settings.nearMe || book.contact(for: key) != nil }

    /// Whether `key` may send me an invitation, by the owner's policy.
    func mayInvite(_ key: PeerKey) -> Bool {
        switch book.settings.invitationPolicy {
        case .nobody: false
        case .contacts: book.contact(for: key)?.mayInvite == true
        case .nearMe: book.contact(for: key)?.mayInvite == true || (book.contact(for: key) == nil && nearMe.announcement(of: key) != nil)
        }
    }

    /// The name to show for `key`: the contact's, else what they announce near me.
    func displayName(of key: PeerKey) -> String {
        book.contact(for: key)?.displayName ?? nearMe.announcement(of: key)?.displayName ?? key.fingerprint
    }

    // MARK: Where people are

    /// Where `key`'s node may be reached: heard near me, heard saying Hello, or on their card.
    func addresses(of key: PeerKey) -> [PeerAddress] {
        var texts = nearMe.addresses(of: key) + peerDirectory.addresses(of: key)
        texts += book.contact(for: key)?.card.endpoints ?? []
        var seen = Set<String>()
        return texts.filter { seen.insert($0).inserted }.compactMap { PeerAddress(parsing: $0) }
    }

    /// Where my contacts' nodes are, as far as this node knows: where private content and
    /// mirrors, never answered for on the LAN, are looked for.
    func contactAddresses() -> [PeerAddress] {
        var addresses: [PeerAddress] = []
        for contact in book.contacts {
            for address in self.addresses(of: contact.key) where !addresses.contains(address) { addresses.append(address) }
        }
        return addresses
    }

    /// The key whose fingerprint this is, among people near me and nodes heard on the LAN.
    func key(withFingerprint fingerprint: String) -> PeerKey? {
        nearMe.key(withFingerprint: fingerprint) ?? peerDirectory.key(withFingerprint: fingerprint)
    }

    func emit(_ event: CollaborationEvent) {
        events.yield(event)
    }
}
