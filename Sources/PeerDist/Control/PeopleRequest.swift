import Foundation
import PeerDistCollaboration

/// What the `peerdist` command asks a node about people: my details and card, contacts,
/// presence, People Near Me, objects, invitations and applications, and the stream of events.
/// Travels inside a `ControlRequest` as `{"op":"people","request":{…}}`.
public enum PeopleRequest: Codable, Sendable, Hashable {
    case me
    case setMe(name: String?, nickname: String?, email: String?)
    case card(endpoints: [String])
    /// A card's `peerdist-contact:` text, or a fingerprint of someone near me; with
    /// `expectedFingerprint`, a card whose key has another is refused.
    case addContact(card: String?, fingerprint: String?, expectedFingerprint: String?)
    case contacts
    case showContact(query: String)
    case removeContact(query: String)
    case setContact(query: String, mayWatchMe: Bool?, watchThem: Bool?, mayInvite: Bool?)
    case setPresence(status: PresenceStatus, note: String)
    case presence
    case setNearMe(on: Bool)
    case near
    case setObject(name: String, data: [UInt8], scope: PublishedObject.Scope)
    case removeObject(name: String)
    case objects(contact: String?)
    case getObject(contact: String, name: String)
    case invite(contact: String, subject: Invitation.Subject, message: String, wait: Bool)
    case invitations
    case acceptInvitation(number: Int, output: String?)
    case declineInvitation(number: Int)
    case setInvitations(policy: InvitationPolicy?, lifetime: Double?)
    case registerApplication(name: String, command: String)
    case applications
    case removeApplication(name: String)
    case events
}

/// The answer to a `PeopleRequest`, in the `people` field of the reply line; each request fills
/// the fields it is about.
public struct PeopleReply: Codable, Sendable {
    public var me: MeListing?
    public var card: String?
    public var contacts: [ContactListing]?
    public var added: Bool?
    public var presence: [PresenceListing]?
    public var near: [PeopleNearMe.Person]?
    public var objects: [ObjectListing]?
    public var object: ObjectListing?
    public var outcome: InvitationOutcome?
    public var invitations: [PendingInvitation]?
    public var applications: [String: String]?
    /// For an accepted application invitation: what to run, as the caller runs it.
    public var launch: ApplicationLaunch?
    public var event: CollaborationEvent?

    public init() {}
}

public struct MeListing: Codable, Sendable {
    public var displayName: String
    public var nickname: String
    public var email: String
    public var fingerprint: String
    public var status: PresenceStatus
    public var note: String
    public var nearMe: Bool
    public var invitationPolicy: InvitationPolicy
    public var invitationLifetime: Double

    enum CodingKeys: String, CodingKey {
        case nickname, email, fingerprint, status, note
        case displayName = "display_name"
        case nearMe = "near_me"
        case invitationPolicy = "invitation_policy"
        case invitationLifetime = "invitation_lifetime"
    }
}

public struct ContactListing: Codable, Sendable {
    public var fingerprint: String
    public var displayName: String
    public var nickname: String
    public var mayWatchMe: Bool
    public var watchThem: Bool
    public var mayInvite: Bool
    public var added: Date
    public var cardExpires: Date
    public var endpoints: [String]
    public var status: PresenceStatus?

    enum CodingKeys: String, CodingKey {
        case fingerprint, nickname, added, endpoints, status
        case displayName = "display_name"
        case mayWatchMe = "may_watch_me"
        case watchThem = "watch_them"
        case mayInvite = "may_invite"
        case cardExpires = "card_expires"
    }
}

public struct PresenceListing: Codable, Sendable, Equatable {
    public var fingerprint: String
    public var name: String
    public var status: PresenceStatus
    public var note: String
    /// When the status was set, by the person's clock.
    public var since: Date?
    /// This node's own presence.
    public var isMe: Bool
    /// Why a watched contact shows offline: not near, not shared with me, an error.
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case fingerprint, name, status, note, since, reason
        case isMe = "me"
    }
}

public struct ObjectListing: Codable, Sendable {
    public var name: String
    public var size: Int
    public var scope: PublishedObject.Scope
    public var sha256: String
    /// The bytes, for `objects get`.
    public var data: [UInt8]?
}

public struct ApplicationLaunch: Codable, Sendable {
    public var application: String
    public var command: String
    public var data: [UInt8]
    public var fingerprint: String
    public var name: String
    public var message: String
}
