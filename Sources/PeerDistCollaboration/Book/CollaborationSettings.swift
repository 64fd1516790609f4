import Foundation

/// Whose invitations a node takes.
public enum InvitationPolicy: String, Codable, CaseIterable, Hashable, Sendable {
    /// Contacts allowed to invite (the default, as Windows had it).
    case contacts
    /// Contacts, and anyone seen near me with People Near Me on.
    case nearMe = "near-me"
    case nobody
}

/// The owner's choices that outlive the node: People Near Me, presence, invitations, and which
/// applications invitations may start.
public struct CollaborationSettings: Codable, Hashable, Sendable {
    /// Off by default: a person's name on the LAN is a privacy choice.
    public var nearMe = false
    public var status: PresenceStatus = .online
    public var note = ""
    public var invitationPolicy: InvitationPolicy = .contacts
    /// How long invitations this node sends stay open, in seconds.
    public var invitationLifetime: TimeInterval = Invitation.defaultLifetime
    /// Application name → the command it runs (run by `/bin/sh -c`; never sent to peers).
    public var applications: [String: String] = [:]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case nearMe = "near_me"
        case status, note, applications
        case invitationPolicy = "invitation_policy"
        case invitationLifetime = "invitation_lifetime"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        nearMe = try container.decodeIfPresent(Bool.self, forKey: .nearMe) ?? false
        status = try container.decodeIfPresent(PresenceStatus.self, forKey: .status) ?? .online
        note = try container.decodeIfPresent(String.self, forKey: .note) ?? ""
        invitationPolicy = try container.decodeIfPresent(InvitationPolicy.self, forKey: .invitationPolicy) ?? .contacts
        invitationLifetime = try container.decodeIfPresent(TimeInterval.self, forKey: .invitationLifetime) ?? Invitation.defaultLifetime
        applications = try container.decodeIfPresent([String: String].self, forKey: .applications) ?? [:]
    }
}
