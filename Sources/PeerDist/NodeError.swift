import Foundation
import PeerDistHashing

/// Why the node could not do what was asked, in words a user can act on.
public struct NodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public typealias Code = ErrorCode<NodeError>

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func system(_ what: String, errno code: Int32 = errno) -> NodeError {
        NodeError(.io, "\(what): \(String(cString: strerror(code)))")
    }

    public var description: String { message }
}

extension ErrorCode where Domain == NodeError {
    public static let invalidState = Self("invalid state")
    public static let io = Self("input/output")
    /// A peer broke the protocol (an answer nobody asked for, a part out of order): the node
    /// drops that connection.
    public static let protocolViolation = Self("protocol violation")
    public static let notFound = Self("not found")
    public static let unreachable = Self("unreachable")
    public static let verificationFailed = Self("verification failed")
}
