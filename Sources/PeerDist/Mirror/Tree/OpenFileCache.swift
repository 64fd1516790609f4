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
        /// Paths in the order they were kept; the oldest goes first.
        var order: [String] = []
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 32) {
        precondition(capacity > 0, "a cache of open files holds at least one")
        self.capacity = capacity
    }

    func file(at path: String) -> OpenFile? {
        state.withLock { $0.files[path] }
    }

    func keep(_ file: OpenFile, at path: String) {
        state.withLock { state in
            if state.files.updateValue(file, forKey: path) != nil { return }
            state.order.append(path)
            if state.order.count > capacity {
                state.files[state.order.removeFirst()] = nil
            }
        }
    }

    func evict(_ path: String) {
        state.withLock { state in
            guard state.files.removeValue(forKey: path) != nil else { return }
            state.order.removeAll { $0 == path }
        }
    }

    func removeAll() {
        state.withLock { state in
            state.files.removeAll()
            state.order.removeAll()
        }
    }
}
