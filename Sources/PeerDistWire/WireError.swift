import Foundation
import NIOCore
import PeerDistHashing

/// What went wrong between this node and a peer: a message or frame that breaks the protocol (the
/// connection that sent it is dropped), a handshake that failed, a peer that could not be reached,
/// or a node identity that could not be loaded.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public typealias Code = ErrorCode<WireError>

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A message or frame that breaks the protocol.
    public init(_ message: String) {
        self.init(.malformed, message)
    }

    static func system(_ code: Code, _ what: String, errno number: Int32 = errno) -> WireError {
        WireError(code, "\(what): \(String(cString: strerror(number)))")
    }

    public var description: String { message }
}

extension FieldReader where Failure == WireError {
    /// Reads a big-endian wire format; a short or out-of-range field is a `.malformed` error.
    package init(_ bytes: some Collection<UInt8>, subject: String) {
        self.init(bytes, subject: subject, failure: { WireError(.malformed, $0) })
    }

    package init(_ buffer: ByteBuffer, subject: String) {
        self.init(buffer, subject: subject, failure: { WireError(.malformed, $0) })
    }
}

extension ErrorCode where Domain == WireError {
    /// A message, frame or field that breaks the protocol.
    public static let malformed = Self("malformed")
    /// The peer could not be reached, or went away mid-exchange.
    public static let unreachable = Self("unreachable")
    /// The node's identity file is unusable, or could not be written.
    public static let identity = Self("identity")
}
