/// Why a Content Information blob was rejected: what was wrong, in which field, at which byte.
public struct ContentInformationError: Error, Hashable, Sendable, CustomStringConvertible {
    public typealias Code = ErrorCode<ContentInformationError>

    public let code: Code
    /// The field as the specification names it, e.g. `cbSegment`.
    public let field: String
    /// Byte offset of the field from the start of the blob.
    public let offset: Int
    public let reason: String

    public init(_ code: Code, field: String, offset: Int, reason: String) {
        self.code = code
        self.field = field
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        "malformed Content Information: \(field) at byte \(offset): \(reason)"
    }
}

extension ErrorCode where Domain == ContentInformationError {
    /// The blob ends inside a field.
    public static let truncated = Self("truncated")
    /// The version word is neither 1.0 nor 2.0.
    public static let unsupportedVersion = Self("unsupported version")
    /// The hash algorithm field names no algorithm this version allows.
    public static let unsupportedHashAlgorithm = Self("unsupported hash algorithm")
    /// A field holds a value the format forbids or that contradicts another field.
    public static let invalidValue = Self("invalid value")
    /// Bytes follow the last structure the header announces.
    public static let trailingBytes = Self("trailing bytes")
}
