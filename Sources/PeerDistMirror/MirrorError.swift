import PeerDistHashing
#if canImport(Glibc)
import Glibc
#endif

/// Why a mirror name, manifest, version or tree was refused or could not be handled: what kind of
/// problem (`code`), a message naming the name, field, page or path concerned, and the system's
/// errno when a call failed.
///
/// Manifests come from the network, so many of these describe hostile or corrupt input; the
/// message says exactly what was wrong so a publisher can fix a tree that will not publish.
/// Errors are equal when their codes are, so callers match `error.code == .noSpace` or compare
/// against a code-only value in tests.
public struct MirrorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A kind of failure; extensible without breaking callers that switch over the ones they know.
    public typealias Code = ErrorCode<MirrorError>

    public let code: Code
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

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }

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

    /// `text` quoted for a message, control characters escaped and long text shortened, since it
    /// usually comes from the network.
    static func quoted(_ text: some StringProtocol, limit: Int = 120) -> String {
        let shown = text.count > limit ? "\(text.prefix(limit))…" : String(text)
        return shown.debugDescription
    }
}

extension ErrorCode where Domain == MirrorError {
    // Names and manifests.

    /// Text that is not `authority.classifier`, or a publisher key of the wrong size.
    public static let invalidName = Self("invalid mirror name")
    /// Bytes that do not parse as a manifest root or page: truncated, trailing or out-of-range fields.
    public static let malformed = Self("malformed manifest")
    /// More entries, pages, bytes or chunks than the format allows.
    public static let tooLarge = Self("manifest too large")
    /// A root whose signature does not verify with the key it names.
    public static let invalidSignature = Self("invalid signature")
    /// A root signed by a key that is not the mirror's authority.
    public static let wrongPublisher = Self("wrong publisher")
    /// A root of another mirror (a different classifier) than the one expected.
    public static let wrongMirror = Self("wrong mirror")
    /// A version that is not newer than the one already held.
    public static let staleVersion = Self("stale version")
    /// A page the root lists was not supplied.
    public static let missingPage = Self("missing page")
    /// Page bytes that do not match the hash, size or entry count the root gives them.
    public static let corruptPage = Self("corrupt page")
    /// A path that could write outside the mirror or onto the follower's own files.
    public static let unsafePath = Self("unsafe path")
    /// Two entries with the same path.
    public static let collision = Self("names collide")
    /// Entries out of path-byte order.
    public static let unsorted = Self("entries not sorted")
    /// An entry whose parent is not a directory entry of the manifest.
    public static let missingParent = Self("missing parent directory")
    /// An entry with out-of-range fields: mode, time, chunk length, empty link target.
    public static let invalidEntry = Self("invalid entry")
    /// A symbolic link that is absolute, leads out of the mirror, or loops.
    public static let unsafeSymlink = Self("unsafe symbolic link")

    // Trees on disk.

    /// The mirror's directory does not exist.
    public static let notFound = Self("not found")
    /// The file system is full (ENOSPC) or the user's disk quota is used up (EDQUOT).
    public static let noSpace = Self("no space")
    /// A scan cache or journal that PeerDist did not write, or that was damaged.
    public static let corrupt = Self("corrupt")
    /// A commit was asked for while chunks were still missing.
    public static let incomplete = Self("incomplete")
    /// The operation does not fit the update's state: it was committed or abandoned, or an
    /// interrupted commit must be recovered first.
    public static let invalidState = Self("invalid state")
    /// Bytes stored for a chunk that do not have the chunk's length.
    public static let invalidArgument = Self("invalid argument")
    /// Any other system failure; `errno` says which.
    public static let io = Self("I/O error")
}
