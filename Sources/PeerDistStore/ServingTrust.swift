import CSystemCalls
import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Which blocks of published files this node has hashed and found good, and under which stamp
/// of the file: such a block is served again without hashing while the file keeps that stamp.
///
/// The stamp adds the inode change time (ctime) to what a publication records (size, mtime,
/// inode, device): a program can restore a file's size and mtime after rewriting it in place, but
/// not its ctime, which the kernel sets on every write and on every change of the times. A stamp
/// whose ctime falls within the file system's settling time (`FileStamp.settlingNanoseconds`) of
/// the clock when the block was read is not trusted: a write in the same tick of the file
/// system's clock could leave the ctime as it was ("racily clean", as git calls it), so such
/// blocks are hashed on every read until the file has been quiet that long.
///
/// Kept in memory only: after a restart, each block is hashed once more on its first serve.
struct ServingTrust {
    /// Paths with trusted blocks at most: a node publishing more hashes the rest on every read.
    static let maximumFiles = 4096

    private struct Entry {
        var stamp: FileStamp
        var verified: BlockBitmap
    }

    private var entries: [String: Entry] = [:]

    /// Whether block `number` of the file at `path` was verified under exactly `stamp`.
    func isVerified(path: String, number: Int, stamp: FileStamp) -> Bool {
        guard let entry = entries[path], entry.stamp == stamp, number < entry.verified.count else { return false }
        return entry.verified.contains(number)
    }

    /// Records that block `number` (of `blockCount`) hashed good, read under `stamp` with the
    /// stamp unchanged after the read; `now` is the wall clock before the read, `settling` the
    /// file system's settling time.
    mutating func verified(
        path: String, number: Int, blockCount: Int, stamp: FileStamp, now: Int64, settling: Int64 = FileStamp.slowSettlingNanoseconds
    ) {
        guard stamp.changed < now - settling else { return }
        var entry = entries[path].flatMap { $0.stamp == stamp ? $0 : nil } ?? Entry(stamp: stamp, verified: BlockBitmap(count: blockCount))
        guard number < entry.verified.count else { return }
        if entries[path] == nil, entries.count >= Self.maximumFiles { return }
        entry.verified.insert(number)
        entries[path] = entry
    }

    /// Every block of the file at `path`, hashed whole under `stamp` (when it was published).
    mutating func verifiedAll(
        path: String, blockCount: Int, stamp: FileStamp, now: Int64, settling: Int64 = FileStamp.slowSettlingNanoseconds
    ) {
        guard stamp.changed < now - settling else { return }
        if entries[path] == nil, entries.count >= Self.maximumFiles { return }
        entries[path] = Entry(stamp: stamp, verified: .full(count: blockCount))
    }

    mutating func forget(path: String) {
        entries[path] = nil
    }
}

/// A file's status with its inode change time: what `ServingTrust` trusts a hash under.
struct FileStamp: Hashable, Sendable {
    var status: FileStatus
    /// Inode change time (ctime) in nanoseconds since the epoch.
    var changed: Int64

    init(_ status: stat) {
        self.status = FileStatus(status)
        changed = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
    }

    /// The wall clock in nanoseconds since the epoch, as file times count.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// How long a file system's ctime may stay as it was across a write: 2 s unless the file
    /// system is known to stamp from the kernel's clock.
    static let slowSettlingNanoseconds: Int64 = 2_000_000_000
    /// Linux's local file systems stamp ctime from the kernel's coarse clock, whose tick is at
    /// most 10 ms (HZ ≥ 100); this leaves room.
    static let localSettlingNanoseconds: Int64 = 50_000_000

    /// The settling time of the file system holding the open file `descriptor`: the local one
    /// for tmpfs, ext2/3/4, XFS, Btrfs, F2FS, ZFS and overlayfs; the slow one for the rest (FAT
    /// keeps times to 2 s; network and FUSE file systems take times from elsewhere).
    static func settlingNanoseconds(ofFileSystemOf descriptor: Int32) -> Int64 {
        settlingNanoseconds(ofFileSystemType: peerdist_file_system_type(descriptor))
    }

    static func settlingNanoseconds(ofFileSystemAt path: String) -> Int64 {
        settlingNanoseconds(ofFileSystemType: peerdist_file_system_type_at(path))
    }

    static func settlingNanoseconds(ofFileSystemType type: Int64) -> Int64 {
        localFileSystemTypes.contains(type) ? localSettlingNanoseconds : slowSettlingNanoseconds
    }

    /// The `statfs` magic numbers of the file systems that stamp from the kernel's clock.
    private static let localFileSystemTypes: Set<Int64> = [
        0x0102_1994,  // tmpfs
        0xEF53,  // ext2, ext3, ext4
        0x5846_5342,  // XFS
        0x9123_683E,  // Btrfs
        0xF2F5_2010,  // F2FS
        0x2FC1_2FC1,  // ZFS
        0x794C_7630,  // overlayfs
    ]

    /// The stamp of `path`, following symbolic links; nil when it cannot be read.
    static func of(_ path: String) -> FileStamp? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return FileStamp(status)
    }
}

extension StoreFile {
    /// The open file's stamp.
    func stamp() throws(StoreError) -> FileStamp {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat", path: path, errno: errno) }
        return FileStamp(status)
    }
}
