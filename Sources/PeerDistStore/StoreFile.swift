import PeerDistHashing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An open file of the store, for positional reads and writes that several threads may issue at
/// once; every failure becomes a `StoreError` naming the file. Closed when the last owner lets go.
final class StoreFile: Sendable {
    let path: String
    let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(StoreError) -> StoreFile {
        while true {
            let descriptor = Glibc.open(path, flags | O_CLOEXEC, mode)
            if descriptor >= 0 { return StoreFile(path: path, descriptor: descriptor) }
            if errno != EINTR { throw .system("cannot open", path: path, errno: errno) }
        }
    }

    /// Reads up to `count` bytes from `offset`; fewer only at the end of the file.
    func read(count: Int, at offset: UInt64) throws(StoreError) -> [UInt8] {
        var failure: StoreError?
        // Not zeroed first: only the bytes read are kept.
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(StoreError) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Fills `buffer` from `offset`; returns the bytes read, fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(StoreError) -> Int {
        switch PositionalRead.fill(buffer, from: descriptor, at: offset) {
        case .success(let count): return count
        case .failure(let failure): throw .system("cannot read", path: path, errno: failure.errno)
        }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: UInt64) throws(StoreError) {
        var failure: Int32 = 0
        bytes.withUnsafeBytes { buffer in failure = write(buffer, at: offset) }
        guard failure == 0 else { throw .system("cannot write", path: path, errno: failure) }
    }

    /// Writes all of `buffer` at `offset`; returns 0 or the errno of the failed write.
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) -> Int32 {
        var done = 0
        while done < buffer.count {
            let result = pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if result >= 0 {
                done += result
            } else if errno != EINTR {
                return errno
            }
        }
        return 0
    }

    /// Makes written bytes durable (`fdatasync`: the data and the size, not the timestamps).
    func syncData() throws(StoreError) {
        guard fdatasync(descriptor) == 0 else { throw .system("cannot flush to disk", path: path, errno: errno) }
    }

    func truncate(to size: UInt64) throws(StoreError) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw .system("cannot resize", path: path, errno: errno) }
    }

    func status() throws(StoreError) -> FileStatus {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat", path: path, errno: errno) }
        return FileStatus(status)
    }
}

/// What identifies one version of a file on disk: if any of these changed, the bytes may have.
struct FileStatus: Hashable, Sendable {
    var size: UInt64
    /// Modification time in nanoseconds since the epoch.
    var modified: Int64
    var inode: UInt64
    var device: UInt64
    var isRegularFile: Bool

    init(size: UInt64, modified: Int64, inode: UInt64, device: UInt64, isRegularFile: Bool = true) {
        self.size = size
        self.modified = modified
        self.inode = inode
        self.device = device
        self.isRegularFile = isRegularFile
    }

    init(_ status: stat) {
        size = UInt64(max(0, status.st_size))
        modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        inode = UInt64(status.st_ino)
        device = UInt64(status.st_dev)
        isRegularFile = (status.st_mode & S_IFMT) == S_IFREG
    }

    /// The status of `path`, following symbolic links; nil when it does not exist.
    static func of(_ path: String) throws(StoreError) -> FileStatus? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .system("cannot stat", path: path, errno: errno)
        }
        return FileStatus(status)
    }

    /// Whether `other` is the same version of the same file.
    func matches(_ other: FileStatus) -> Bool {
        size == other.size && modified == other.modified && inode == other.inode && device == other.device
    }
}

/// File-system operations on paths that the store needs beyond reads and writes.
enum StorePaths {
    /// Creates `path` and any missing parents; the last component gets `mode`, parents 0755.
    static func createDirectory(_ path: String, mode: mode_t) throws(StoreError) {
        if mkdir(path, mode) == 0 { return }
        switch errno {
        case EEXIST:
            guard let status = try FileStatus.of(path), !status.isRegularFile else {
                throw StoreError(.exists, "\(path): exists and is not a directory", errno: EEXIST)
            }
        case ENOENT:
            let parent = parentDirectory(of: path)
            guard parent != path, !parent.isEmpty else { throw .system("cannot create directory", path: path, errno: ENOENT) }
            try createDirectory(parent, mode: 0o755)
            guard mkdir(path, mode) == 0 || errno == EEXIST else { throw .system("cannot create directory", path: path, errno: errno) }
        default:
            throw .system("cannot create directory", path: path, errno: errno)
        }
    }

    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// The absolute, symlink-free path of an existing file.
    static func resolve(_ path: String) throws(StoreError) -> String {
        guard let resolved = realpath(path, nil) else { throw .system("cannot resolve", path: path, errno: errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Removes a file; a file that is already gone is not an error.
    static func remove(_ path: String) throws(StoreError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .system("cannot remove", path: path, errno: errno) }
    }

    static func rename(_ source: String, to destination: String) throws(StoreError) {
        guard Glibc.rename(source, destination) == 0 else {
            throw .system("cannot rename to \(destination)", path: source, errno: errno)
        }
    }

    /// The names in a directory, without `.` and `..`.
    static func contents(of directory: String) throws(StoreError) -> [String] {
        guard let stream = opendir(directory) else { throw .system("cannot list", path: directory, errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }
}

/// Wall-clock time for last-access stamps, in nanoseconds since the epoch; strictly increasing
/// within the process, so two touches in a row are always ordered for least-recently-used eviction.
enum StoreClock {
    private static let last = PThreadMutex<Int64>(0)

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let reading = Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
        return last.withLock { last in
            last = max(reading, last + 1)
            return last
        }
    }
}
