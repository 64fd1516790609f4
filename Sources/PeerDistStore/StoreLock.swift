import PeerDistHashing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Keeps a store directory to one `ContentStore` at a time, for as long as the lock lives.
///
/// Across processes it takes a POSIX record lock on `<directory>/lock`. Unlike `flock`, such a
/// lock is not shared with child processes: a process spawned by another thread holds a copy of
/// every descriptor until it execs, and an inherited `flock` would keep the store locked after
/// it was closed. Record locks do not exclude the process holding them, so within the process a
/// registry of open directories does that.
final class StoreLock: Sendable {
    private static let openDirectories = PThreadMutex<Set<String>>([])

    private let directory: String
    private let descriptor: Int32

    /// - Parameter directory: absolute and resolved, so two spellings of one directory collide.
    init(directory: String) throws(StoreError) {
        let path = "\(directory)/lock"
        let busy = StoreError(.busy, "\(directory): the store is already open, in this process or another")
        guard Self.openDirectories.withLock({ $0.insert(directory).inserted }) else { throw busy }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let failure = StoreError.system("cannot open", path: path, errno: errno)
            Self.openDirectories.withLock { _ = $0.remove(directory) }
            throw failure
        }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(descriptor, F_SETLK, &lock) == 0 else {
            let number = errno
            close(descriptor)
            Self.openDirectories.withLock { _ = $0.remove(directory) }
            if number == EACCES || number == EAGAIN { throw busy }
            throw .system("cannot lock", path: path, errno: number)
        }
        self.directory = directory
        self.descriptor = descriptor
    }

    deinit {
        // Closed before the directory leaves the registry: closing any descriptor of the file
        // drops the process's record lock, so a store opened after the removal must find it closed.
        close(descriptor)
        Self.openDirectories.withLock { _ = $0.remove(directory) }
    }
}
