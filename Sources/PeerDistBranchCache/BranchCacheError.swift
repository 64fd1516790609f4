import NIOCore
import PeerDistHashing
import PeerDistWire

/// What went wrong speaking BranchCache's own protocols: a message that breaks MS-PCCRR (the
/// field and the byte offset named), a protocol version this node does not speak, or a block
/// that would not decrypt.
public struct BranchCacheError: Error, Hashable, Sendable, CustomStringConvertible {
    public typealias Code = ErrorCode<BranchCacheError>

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension ErrorCode where Domain == BranchCacheError {
    /// A message or field that breaks the protocol: short, too long, a count or index out of range.
    public static let malformed = Self("malformed")
    /// A request in a major protocol version this node does not speak; answered with MSG_NEGO_RESP.
    public static let unsupportedVersion = Self("unsupported version")
    /// A block whose ciphertext, key or IV cannot be decrypted as its header says.
    public static let undecryptable = Self("undecryptable")
    /// A file or directory an origin was asked for that is not there.
    public static let notFound = Self("not found")
}

extension FieldReader where Failure == BranchCacheError {
    /// Reads a big-endian MS-PCCRR message; a short or out-of-range field is `.malformed`.
    init(pccrr buffer: ByteBuffer, subject: String) {
        self.init(buffer, subject: subject, endianness: .big, failure: { BranchCacheError(.malformed, $0) })
    }
}
