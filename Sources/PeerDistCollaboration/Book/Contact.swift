import Foundation
import PeerDistWire

/// A person this node's owner trusts: their card, and what they may do.
public struct Contact: Hashable, Sendable {
    public var card: ContactCard
    /// They may watch my presence and objects (Windows' watcher permission: allow or block).
    public var mayWatchMe: Bool
    /// My node watches theirs.
    public var watchThem: Bool
    /// They may send me invitations.
    public var mayInvite: Bool
    public var added: Date

    public init(card: ContactCard, mayWatchMe: Bool = true, watchThem: Bool = true, mayInvite: Bool = true, added: Date = Date()) {
        self.card = card
        self.mayWatchMe = mayWatchMe
        self.watchThem = watchThem
        self.mayInvite = mayInvite
        // Whole seconds, as the book keeps it, so that a contact equals itself reloaded.
        self.added = Date(timeIntervalSince1970: added.timeIntervalSince1970.rounded(.down))
    }

    public var key: PeerKey { card.key }
    public var fingerprint: String { card.fingerprint }
    public var displayName: String { card.displayName }
    public var nickname: String { card.nickname }
}

extension Contact: Codable {
    enum CodingKeys: String, CodingKey {
        case card, added
        case mayWatchMe = "may_watch_me"
        case watchThem = "watch_them"
        case mayInvite = "may_invite"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let uri = try container.decode(String.self, forKey: .card)
        // Cards in the book were checked when added; an expired one stays a contact.
        do {
            card = try ContactCard(parsing: uri, now: .distantPast)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .card, in: container, debugDescription: "\(error)")
        }
        mayWatchMe = try container.decode(Bool.self, forKey: .mayWatchMe)
        watchThem = try container.decode(Bool.self, forKey: .watchThem)
        mayInvite = try container.decode(Bool.self, forKey: .mayInvite)
        added = try container.decode(Date.self, forKey: .added)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(card.uri, forKey: .card)
        try container.encode(mayWatchMe, forKey: .mayWatchMe)
        try container.encode(watchThem, forKey: .watchThem)
        try container.encode(mayInvite, forKey: .mayInvite)
        try container.encode(added, forKey: .added)
    }
}

extension Array where Element == Contact {
    /// The one contact `query` names: by fingerprint (dashes and case optional), else by display
    /// name or nickname (case-insensitive). A name two contacts share is an error listing both.
    public func resolve(_ query: String) throws(CollaborationError) -> Contact {
        if let fingerprint = Fingerprint.parse(query), let contact = first(where: { $0.fingerprint == fingerprint }) {
            return contact
        }
        let folded = query.lowercased()
        let matches = filter { $0.displayName.lowercased() == folded || (!$0.nickname.isEmpty && $0.nickname.lowercased() == folded) }
        switch matches.count {
        case 1:
            return matches[0]
        case 0:
            throw CollaborationError(.notFound, "no contact is named or has the fingerprint \"\(query)\" (see `peerdist contacts ls`)")
        default:
            let listed = matches.map { "\($0.displayName) (\($0.fingerprint))" }.joined(separator: ", ")
            throw CollaborationError(.ambiguous, "\"\(query)\" names \(matches.count) contacts: \(listed); name one by its fingerprint")
        }
    }
}
