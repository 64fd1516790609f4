import Foundation

/// Why the node could not do what was asked, in words a user can act on.
public struct NodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        public static let invalidState = Code("invalid state")
        public static let io = Code("input/output")
        /// A peer broke the protocol (an answer nobody asked for, a part out of order): the node
        /// drops that connection.
        public static let protocolViolation = Code("protocol violation")
        public static let notFound = Code("not found")
        public static let unreachable = Code("unreachable")
        public static let verificationFailed = Code("verification failed")

        public var description: String { name }
    }

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
