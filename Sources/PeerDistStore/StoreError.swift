import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Why the content store refused or failed an operation: what kind of failure (`code`), a message
/// naming the path, content, segment or block concerned, and the system's errno when there was one.
///
/// Errors are equal when their codes are, so callers can match `error.code == .noSpace` or
/// compare against a code-only value in tests.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A kind of failure; extensible without breaking callers that switch over the ones they know.
    public typealias Code = ErrorCode<StoreError>

    public let code: Code
    /// What went wrong, starting with the path or content concerned.
    public let message: String
    /// The system error number, when a system call failed.
    public let errno: Int32?
    /// Where in PeerDist the error was raised, for bug reports.
    public let sourceLocation: String

    public init(_ code: Code, _ message: String, errno: Int32? = nil, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.errno = errno
        self.sourceLocation = "\(fileID):\(line)"
    }

    public var description: String { message }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }

    /// A failed system call on `path`, with errno mapped to the code a caller can act on: a full
    /// disk reads "<path>: no space left on device" whatever the operation was.
    static func system(
        _ operation: String, path: String, errno number: Int32, fileID: String = #fileID, line: Int = #line
    ) -> StoreError {
        switch number {
        case ENOSPC, EDQUOT:
            return StoreError(.noSpace, "\(path): no space left on device", errno: number, fileID: fileID, line: line)
        case ENOENT:
            return StoreError(.notFound, "\(path): \(operation): no such file or directory", errno: number, fileID: fileID, line: line)
        case EEXIST:
            return StoreError(.exists, "\(path): already exists", errno: number, fileID: fileID, line: line)
        default:
            let reason = String(cString: strerror(number))
            return StoreError(.io, "\(path): \(operation): \(reason)", errno: number, fileID: fileID, line: line)
        }
    }

    /// An `AtomicFile` failure, keeping its errno so a full disk still reads as `.noSpace`.
    static func atomicWrite(_ failure: AtomicFile.WriteError, fileID: String = #fileID, line: Int = #line) -> StoreError {
        guard let number = failure.errorNumber else {
            return StoreError(.io, failure.description, fileID: fileID, line: line)
        }
        if number == ENOSPC || number == EDQUOT || number == EEXIST {
            return .system("write", path: failure.path, errno: number, fileID: fileID, line: line)
        }
        return StoreError(.io, failure.description, errno: number, fileID: fileID, line: line)
    }
}

extension ContentID {
    /// A prefix that tells contents apart in messages without writing out the whole ID, which is a
    /// read capability and does not belong in logs.
    var shortName: String { "content \(hex.prefix(12))…" }
}

extension ErrorCode where Domain == StoreError {
    /// No such content, publication, segment or file.
    public static let notFound = Self("not found")
    /// The destination already exists and replacing was not asked for.
    public static let exists = Self("exists")
    /// The file system is full (ENOSPC) or the user's disk quota is used up (EDQUOT).
    public static let noSpace = Self("no space")
    /// The content would not fit in the store's cache quota even when the cache is empty.
    public static let quotaExceeded = Self("quota exceeded")
    /// Bytes offered for a block do not match the block's hash in the Content Information.
    public static let corruptBlock = Self("corrupt block")
    /// Content Information that does not describe the whole content its ID names.
    public static let invalidInformation = Self("invalid content information")
    /// A segment or block index outside the content.
    public static let invalidArgument = Self("invalid argument")
    /// A download finished before every block was held.
    public static let incomplete = Self("incomplete")
    /// A file changed while it was being published.
    public static let changed = Self("changed")
    /// The store's index log was not written by PeerDist (its header is wrong).
    public static let corruptIndex = Self("corrupt index")
    /// Another process has the store open.
    public static let busy = Self("busy")
    /// Any other system failure; `errno` says which.
    public static let io = Self("I/O error")
}
