import Crypto
import Foundation

/// A small blob a person publishes for their contacts (or everyone near them) to read: a
/// picture, a status card, a list of content IDs on offer. Windows' limits: more than 0 and
/// fewer than 16 KiB of data, at most 128 per person, one per name.
public struct PublishedObject: Codable, Hashable, Sendable {
    public static let maximumSize = 16 * 1024 - 1
    public static let maximumCount = 128
    public static let maximumNameCharacters = 64

    /// Who may read it.
    public enum Scope: String, Codable, Hashable, Sendable, CaseIterable {
        /// The contacts allowed to watch this person.
        case contacts
        /// Anyone on the LAN, while People Near Me is on.
        case nearMe = "near-me"
    }

    public var name: String
    public var data: [UInt8]
    public var scope: Scope
    /// When this node stored it, in whole seconds (what the book keeps). Not on the wire, and
    /// not part of equality: an object received equals the one sent.
    public var modified: Date

    public init(name: String, data: [UInt8], scope: Scope, modified: Date = Date()) throws(CollaborationError) {
        try Self.validate(name: name)
        guard !data.isEmpty else { throw CollaborationError(.invalidValue, "object \(name) is empty; an object holds 1 to \(Self.maximumSize) bytes") }
        guard data.count <= Self.maximumSize else {
            throw CollaborationError(.invalidValue, "object \(name) is \(data.count) bytes; an object holds less than 16 KiB (\(Self.maximumSize) bytes at most)")
        }
        self.name = name
        self.data = data
        self.scope = scope
        self.modified = Date(timeIntervalSince1970: modified.timeIntervalSince1970.rounded(.down))
    }

    public static func == (left: Self, right: Self) -> Bool {
        left.name == right.name && left.data == right.data && left.scope == right.scope
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(data)
        hasher.combine(scope)
    }

    /// Names are 1–64 letters, digits, `.`, `_` and `-`, so that they are safe as file names and
    /// on a command line.
    public static func validate(name: String) throws(CollaborationError) {
        guard !name.isEmpty, name.count <= maximumNameCharacters,
              name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }),
              name != ".", name != ".."
        else {
            throw CollaborationError(.invalidValue, "object name \"\(name)\" is not 1 to \(maximumNameCharacters) letters, digits, '.', '_' or '-'")
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, data, scope, modified
    }

    // The bytes as base64 in the book, not as a list of numbers.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        data = Array(try container.decode(Data.self, forKey: .data))
        scope = try container.decode(Scope.self, forKey: .scope)
        modified = try container.decode(Date.self, forKey: .modified)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(Data(data), forKey: .data)
        try container.encode(scope, forKey: .scope)
        try container.encode(modified, forKey: .modified)
    }

    public var summary: ObjectSummary {
        ObjectSummary(name: name, size: UInt32(data.count), digest: Array(SHA256.hash(data: data)), scope: scope)
    }
}

/// What a watcher learns of an object without its bytes: enough to see it changed.
public struct ObjectSummary: Codable, Hashable, Sendable {
    public var name: String
    public var size: UInt32
    public var digest: [UInt8]
    public var scope: PublishedObject.Scope

    public init(name: String, size: UInt32, digest: [UInt8], scope: PublishedObject.Scope) {
        self.name = name
        self.size = size
        self.digest = digest
        self.scope = scope
    }
}
