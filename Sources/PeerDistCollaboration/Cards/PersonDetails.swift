/// How a person presents themselves: the "Me" contact of Windows' Peer Collaboration. Each
/// field is at most 255 characters, Windows' limit, and the display name is never empty.
public struct PersonDetails: Codable, Hashable, Sendable {
    public static let maximumCharacters = 255

    public var displayName: String
    public var nickname: String
    public var email: String

    enum CodingKeys: String, CodingKey {
        case nickname, email
        case displayName = "display_name"
    }

    public init(displayName: String, nickname: String = "", email: String = "") throws(CollaborationError) {
        self.displayName = displayName
        self.nickname = nickname
        self.email = email
        try validate()
    }

    /// Refuses an empty display name, a field over the limit, or control characters (a name
    /// that could rewrite a terminal line is not a name).
    public func validate() throws(CollaborationError) {
        guard !displayName.allSatisfy(\.isWhitespace) else {
            throw CollaborationError(.invalidValue, "the display name is empty")
        }
        for (field, value) in [("display name", displayName), ("nickname", nickname), ("e-mail address", email)] {
            guard value.count <= Self.maximumCharacters else {
                throw CollaborationError(.invalidValue, "the \(field) has \(value.count) characters, at most \(Self.maximumCharacters) allowed")
            }
            // What a card or an announcement can carry: four bytes a character on average.
            guard value.fitsText(maximumCharacters: Self.maximumCharacters) else {
                throw CollaborationError(.invalidValue, "the \(field) takes \(value.utf8.count) bytes of UTF-8, at most \(Self.maximumCharacters * 4) allowed")
            }
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw CollaborationError(.invalidValue, "the \(field) contains a control character")
            }
        }
    }
}
