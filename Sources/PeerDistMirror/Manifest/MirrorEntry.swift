import PeerDistHashing

/// One path of a mirrored tree as a manifest records it: a regular file (its content as
/// content-defined chunks), a directory or a symbolic link, with its permission bits and
/// modification time.
///
/// Paths are relative to the mirror's root, `/`-separated, without `.`/`..` components or a
/// leading `/`; `MirrorPath` checks them. Entries of a manifest are sorted by path bytes.
public struct MirrorEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// A regular file: its bytes are the chunks in order.
        case file(chunks: [ChunkReference])
        case directory
        /// A symbolic link and its target, exactly as `readlink` returns it.
        case symlink(target: String)
    }

    public var path: String
    public var kind: Kind
    /// Permission bits (`0o7777` at most); ignored for symbolic links.
    public var mode: UInt32
    public var modified: FileTime

    public init(path: String, kind: Kind, mode: UInt32, modified: FileTime) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.modified = modified
    }

    /// The file's length; 0 for directories and links.
    public var size: UInt64 {
        guard case .file(let chunks) = kind else { return 0 }
        return chunks.reduce(0) { $0 + UInt64($1.length) }
    }

    public var chunks: [ChunkReference] {
        guard case .file(let chunks) = kind else { return [] }
        return chunks
    }
}

/// A modification time with nanoseconds, as `stat` reports it.
public struct FileTime: Hashable, Sendable, Comparable {
    public var seconds: Int64
    public var nanoseconds: UInt32

    public init(seconds: Int64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: FileTime, rhs: FileTime) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }
}
