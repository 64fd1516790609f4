#if canImport(Glibc)
import Glibc
#endif

/// What identifies one version of a path on disk, as `lstat` reports it: if any of these changed,
/// the path's content may have, so it is hashed again (publisher) or treated as a local change
/// (follower).
///
/// The change time (`ctime`) is in the stamp because nothing but the kernel sets it: a tool that
/// rewrites a file and restores its size and modification time still moves it.
public struct PathStamp: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        case file = 1
        case directory = 2
        case symlink = 3
        /// A FIFO, socket or device: never part of a mirror.
        case special = 4
    }

    public var kind: Kind
    public var size: UInt64
    public var modified: FileTime
    /// The inode change time.
    public var changed: FileTime
    public var inode: UInt64

    public init(kind: Kind, size: UInt64, modified: FileTime, changed: FileTime, inode: UInt64) {
        self.kind = kind
        self.size = size
        self.modified = modified
        self.changed = changed
        self.inode = inode
    }

    /// Whether `self`, found on disk now, is the version `recorded` describes. A directory only
    /// has to still be a directory: its times move whenever an entry inside it changes, and what
    /// is inside is compared path by path.
    public func isSameVersion(as recorded: PathStamp) -> Bool {
        guard kind == recorded.kind else { return false }
        if kind == .directory { return true }
        return self == recorded
    }
}

/// Everything a mirror needs from one `lstat`: the stamp plus the permission bits.
struct PathStatus: Sendable {
    enum Kind: Sendable {
        case file, directory, symlink, fifo, socket, device
    }

    var kind: Kind
    /// `st_mode & 0o7777`.
    var mode: UInt32
    var size: UInt64
    var modified: FileTime
    var changed: FileTime
    var inode: UInt64

    init(_ status: stat) {
        switch status.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        default: kind = .device
        }
        mode = UInt32(status.st_mode & 0o7777)
        size = UInt64(max(0, status.st_size))
        modified = FileTime(status.st_mtim)
        changed = FileTime(status.st_ctim)
        inode = UInt64(status.st_ino)
    }

    var stamp: PathStamp {
        let stampKind: PathStamp.Kind
        switch kind {
        case .file: stampKind = .file
        case .directory: stampKind = .directory
        case .symlink: stampKind = .symlink
        case .fifo, .socket, .device: stampKind = .special
        }
        return PathStamp(kind: stampKind, size: size, modified: modified, changed: changed, inode: inode)
    }
}

extension FileTime {
    init(_ time: timespec) {
        self.init(seconds: Int64(time.tv_sec), nanoseconds: UInt32(clamping: time.tv_nsec))
    }

    var timespec: Glibc.timespec {
        Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds))
    }

    /// The wall clock now.
    package static func now() -> FileTime {
        var time = Glibc.timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return FileTime(time)
    }

    /// Nanoseconds since the epoch, for differences between times.
    var totalNanoseconds: Int64 {
        seconds &* 1_000_000_000 &+ Int64(nanoseconds)
    }
}
