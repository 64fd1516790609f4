import Foundation
import PeerDistCollaboration

/// One change `peerdist events` reports, one JSON object per line: a contact's presence, a
/// person arriving near me or leaving, a watched contact's object, an invitation received or
/// answered, a contact added or removed.
public struct CollaborationEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case presence
        case nearMe = "near-me"
        case object
        case invitation
        case invitationAnswer = "invitation-answer"
        case contact
    }

    public var type: Kind
    public var time: Date
    /// Whose: the contact, the person near me, the sender or recipient of an invitation.
    public var fingerprint: String?
    public var name: String?
    public var status: PresenceStatus?
    public var note: String?
    /// For presence: when the person set it, by their clock.
    public var since: Date?
    /// What happened to it: "arrived", "left", "changed", "added", "removed".
    public var change: String?
    public var object: String?
    /// An invitation's number in `peerdist invitations`, its ID, what it offers and its outcome.
    public var number: Int?
    public var invitation: String?
    public var subject: String?
    public var message: String?
    public var outcome: InvitationOutcome?

    public init(_ type: Kind, fingerprint: String? = nil, name: String? = nil) {
        self.type = type
        self.time = Date()
        self.fingerprint = fingerprint
        self.name = name
    }
}
