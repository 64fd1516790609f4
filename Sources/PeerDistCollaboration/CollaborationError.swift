import PeerDistHashing
import PeerDistWire

/// What went wrong with a person-facing record: a contact card, a presence or People Near Me
/// announcement, an object, an invitation or the book that keeps them. The message says which
/// record, which field and what was expected, in one line a user can act on.
public struct CollaborationError: Error, Hashable, Sendable, CustomStringConvertible {
    public typealias Code = ErrorCode<CollaborationError>

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension ErrorCode where Domain == CollaborationError {
    /// Bytes that are not a well-formed record of the kind expected.
    public static let malformed = Self("malformed")
    /// A signature that does not verify under the key the record names.
    public static let badSignature = Self("bad signature")
    /// A card past its expiry, or an announcement too old to be current.
    public static let expired = Self("expired")
    /// A key other than the one the user or the channel vouched for.
    public static let wrongKey = Self("wrong key")
    /// An announcement or presence older than one already seen from the same key.
    public static let replayed = Self("replayed")
    /// A value outside its limits: a name too long, an object too large, one object too many.
    public static let invalidValue = Self("invalid value")
    /// No contact, object, invitation or application by that name.
    public static let notFound = Self("not found")
    /// A name that matches more than one contact.
    public static let ambiguous = Self("ambiguous")
    /// The book could not be read or written.
    public static let io = Self("io")
}

extension FieldReader where Failure == CollaborationError {
    /// Reads a big-endian collaboration record; a short or out-of-range field is `.malformed`.
    package init(_ bytes: some Collection<UInt8>, subject: String) {
        self.init(bytes, subject: subject, failure: { CollaborationError(.malformed, $0) })
    }

    /// A UTF-8 string of at most `maximumCharacters` characters (and four bytes each), after a
    /// u16 length: invalid UTF-8 is refused rather than repaired, since a repaired string is not
    /// the one that was signed.
    package mutating func text(_ field: @autoclosure () -> String, maximumCharacters: Int) throws(CollaborationError) -> String {
        let position = offset
        let length = Int(try integer(UInt16.self, "\(field()) length"))
        guard length <= maximumCharacters * 4 else {
            throw failure("the \(field()) is \(length) bytes, more than \(maximumCharacters) characters can take", at: position)
        }
        let bytes = try bytes(length, field())
        guard let text = String(validating: bytes, as: UTF8.self) else { throw failure("the \(field()) is not UTF-8", at: position) }
        guard text.count <= maximumCharacters else {
            throw failure("the \(field()) has \(text.count) characters, at most \(maximumCharacters) allowed", at: position)
        }
        return text
    }

    package mutating func peerKey(_ field: @autoclosure () -> String) throws(CollaborationError) -> PeerKey {
        PeerKey(try bytes(PeerKey.byteCount, field()))
    }

    /// Fails unless every byte was read: trailing bytes would be unsigned and unchecked.
    package func expectEnd() throws(CollaborationError) {
        guard isAtEnd else { throw failure("\(remaining) bytes follow the end of the record") }
    }
}

extension String {
    /// Whether `FieldReader.text` takes it back within `maximumCharacters`: at most that many
    /// characters, in at most four bytes each. A character can take many more (a family emoji
    /// takes 25, and combining marks have no limit), so counting characters alone lets through
    /// text that every decoder refuses.
    package func fitsText(maximumCharacters: Int) -> Bool {
        count <= maximumCharacters && utf8.count <= maximumCharacters * 4
    }
}

extension FieldWriter {
    /// A string as `FieldReader.text` reads it: u16 length, UTF-8.
    package mutating func append(text: String) {
        let bytes = Array(text.utf8)
        append(UInt16(clamping: bytes.count))
        append(contentsOf: bytes.prefix(Int(UInt16.max)))
    }
}
