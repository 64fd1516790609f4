#if canImport(Glibc)
import Glibc
#endif

/// Why scanning, indexing or updating a mirrored tree failed: what kind of failure (`code`), a
/// message that starts with the path concerned, and the system's errno when a call failed.
///
/// Errors are equal when their codes are, so callers match `error.code == .noSpace` or compare
/// against a code-only value in tests.
public struct MirrorError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A kind of failure; extensible without breaking callers that switch over the ones they know.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The mirror's directory does not exist.
        public static let notFound = Code("not found")
        /// The file system is full (ENOSPC) or the user's disk quota is used up (EDQUOT).
        public static let noSpace = Code("no space")
        /// A scan cache or journal that PeerDist did not write, or that was damaged.
        public static let corrupt = Code("corrupt")
        /// A commit was asked for while chunks were still missing.
        public static let incomplete = Code("incomplete")
        /// The operation does not fit the update's state: it was committed or abandoned, or an
        /// interrupted commit must be recovered first.
        public static let invalidState = Code("invalid state")
        /// Bytes stored for a chunk that do not have the chunk's length.
        public static let invalidArgument = Code("invalid argument")
        /// Any other system failure; `errno` says which.
        public static let io = Code("I/O error")

        public var description: String { name }
    }

    public let code: Code
    /// What went wrong, starting with the path concerned.
    public let message: String
    /// The system error number, when a system call failed.
    public let errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String { message }

    public static func == (lhs: MirrorError, rhs: MirrorError) -> Bool { lhs.code == rhs.code }

    /// A failed system call on `path`: "<path>: <operation>: <strerror>", except that a full disk
    /// reads "<path>: no space left on device" whatever the operation was.
    static func system(_ operation: String, path: String, errno number: Int32) -> MirrorError {
        switch number {
        case ENOSPC, EDQUOT:
            return MirrorError(.noSpace, "\(path): no space left on device", errno: number)
        default:
            return MirrorError(.io, "\(path): \(operation): \(String(cString: strerror(number)))", errno: number)
        }
    }

    /// Whether this is a system failure with `number` as its errno.
    func hasErrno(_ number: Int32) -> Bool { errno == number }
}
