import Foundation

/// An invitation one person sends another over the channel authenticated as the recipient: to
/// fetch content, to follow a mirror, or to start an application with some data. The recipient
/// accepts or declines before it expires; the sender learns which, or that it expired.
public struct Invitation: Codable, Hashable, Sendable {
    public static let maximumMessageCharacters = 255
    public static let maximumDataSize = 16 * 1024
    public static let maximumApplicationNameCharacters = 64
    /// Five minutes, as Windows gave.
    public static let defaultLifetime: TimeInterval = 300
    public static let maximumLifetime: TimeInterval = 7 * 24 * 3600

    public enum Subject: Codable, Hashable, Sendable {
        /// Content to fetch, by content ID (its text form).
        case content(String)
        /// A mirror to follow, by name.
        case mirror(String)
        /// An application registered on the recipient's side, with data for its standard input.
        case application(name: String, data: [UInt8])
    }

    /// Random, chosen by the sender: names the invitation in the answer.
    public var id: [UInt8]
    public var subject: Subject
    public var message: String
    /// Seconds it stays open, counted from when it arrives.
    public var lifetime: TimeInterval

    public init(id: [UInt8] = (0..<16).map { _ in UInt8.random(in: .min ... .max) }, subject: Subject, message: String, lifetime: TimeInterval = defaultLifetime) throws(CollaborationError) {
        self.id = id
        self.subject = subject
        self.message = message
        self.lifetime = lifetime
        try validate()
    }

    public func validate() throws(CollaborationError) {
        guard id.count == 16 else { throw CollaborationError(.malformed, "an invitation ID is 16 bytes, not \(id.count)") }
        guard message.fitsText(maximumCharacters: Self.maximumMessageCharacters) else {
            throw CollaborationError(.invalidValue, "the message has \(message.count) characters in \(message.utf8.count) bytes, at most \(Self.maximumMessageCharacters) characters of four bytes allowed")
        }
        guard lifetime >= 1, lifetime <= Self.maximumLifetime else {
            throw CollaborationError(.invalidValue, "an invitation lasts 1 s to 7 days, not \(lifetime) s")
        }
        switch subject {
        case .content(let id), .mirror(let id):
            guard !id.isEmpty, id.utf8.count <= 512 else { throw CollaborationError(.invalidValue, "the invitation names no content or mirror") }
        case .application(let name, let data):
            guard !name.isEmpty, name.fitsText(maximumCharacters: Self.maximumApplicationNameCharacters) else {
                throw CollaborationError(.invalidValue, "application name \"\(name)\" is not 1 to \(Self.maximumApplicationNameCharacters) characters")
            }
            guard data.count <= Self.maximumDataSize else {
                throw CollaborationError(.invalidValue, "the application data is \(data.count) bytes, at most \(Self.maximumDataSize) allowed")
            }
        }
    }

    /// The ID as hex, as lists and events show it.
    public var idText: String { id.map { String(format: "%02x", $0) }.joined() }
}

/// How an invitation ended, as the sender learns it.
public enum InvitationOutcome: String, Codable, Hashable, Sendable {
    /// Delivered; the recipient has not answered yet.
    case pending
    case accepted, declined, expired
    /// The recipient takes no invitations from this sender (not a contact, or invitations off).
    case refused
}
