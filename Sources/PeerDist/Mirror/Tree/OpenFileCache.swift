import Glibc
import Synchronization

/// Files read from lately, kept open by path (by `LocalChunkIndex` for the chunks it serves and
/// reuses, by `UnchangedFileCopier` for the files it copies from): a peer fetching a large file
/// asks for its chunks one after another, and opening it below the root for each chunk costs a
/// path walk each time (a tenth of a publisher's CPU time in a profile of a first mirror).
///
/// A kept file may no longer be the one at its path (renamed over, deleted); readers check what
/// they read as they would from a fresh open, and evict the path when it does not hold what they
/// expected. The oldest file is closed when a new one does not fit; a removed file keeps its
/// space while it is kept, so owners empty the cache when they remove files themselves. Thread-safe.
final class OpenFileCache: Sendable {
    private struct State: ~Copyable {
        var files: [String: OpenFile] = [:]
        /// Paths in the order they were kept, from `oldest` on; the oldest goes first. Entries
        /// before `oldest` are already gone, dropped in one go once they are as many as the rest.
        var order: [String] = []
        var oldest = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 32) {
        precondition(capacity > 0, "a cache of open files holds at least one")
        self.capacity = capacity
    }

    /// A capacity that fits the process's limit on open files: an eighth of it, between 32 and
    /// 1 024. Several peers mirroring one tree ask for its files in the same order, each some
    /// files behind another; kept long enough, a file opened for the first is still open for
    /// the others.
    static var capacityForOpenFileLimit: Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 1_024 }
        return Int(min(max(limit.rlim_cur / 8, 32), 1_024))
    }

    func file(at path: String) -> OpenFile? {
        state.withLock { $0.files[path] }
    }

    func keep(_ file: OpenFile, at path: String) {
        state.withLock { state in
            if state.files.updateValue(file, forKey: path) != nil { return }
            state.order.append(path)
            if state.order.count - state.oldest > capacity {
                state.files[state.order[state.oldest]] = nil
                state.oldest += 1
                if state.oldest >= capacity {
                    state.order.removeFirst(state.oldest)
                    state.oldest = 0
                }
            }
        }
    }

    func evict(_ path: String) {
        state.withLock { state in
            guard state.files.removeValue(forKey: path) != nil,
                  let position = state.order[state.oldest...].firstIndex(of: path)
            else { return }
            state.order.remove(at: position)
        }
    }

    func removeAll() {
        state.withLock { state in
            state.files.removeAll()
            state.order.removeAll()
            state.oldest = 0
        }
    }
}
