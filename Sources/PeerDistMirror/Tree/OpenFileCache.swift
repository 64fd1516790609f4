import Glibc
import PeerDistHashing
import Synchronization

/// Files read from lately, kept open by path (by `LocalChunkIndex` for the chunks it serves and
/// reuses, by `UnchangedFileCopier` for the files it copies from): a peer fetching a large file
/// asks for its chunks one after another, and opening it below the root for each chunk costs a
/// path walk each time (a tenth of a publisher's CPU time in a profile of a first mirror).
///
/// A kept file may no longer be the one at its path (renamed over, deleted); readers check what
/// they read as they would from a fresh open, and evict the path when it does not hold what they
/// expected. The oldest file is closed when a new one does not fit; a removed file keeps its
/// space while it is kept, so owners empty the cache when they remove files themselves.
///
/// Every cache of the process draws on one `Budget` (a quarter of the open-file limit by
/// default): a node following many mirrors keeps an index per mirror, and their kept files
/// together must leave descriptors for sockets and new files. Past the budget a file is simply
/// not kept. Thread-safe.
final class OpenFileCache: Sendable {
    /// Files kept open by all the caches that share it, at most `limit`.
    final class Budget: Sendable {
        let limit: Int
        private let kept = Atomic<Int>(0)

        init(limit: Int) {
            self.limit = limit
        }

        /// A quarter of the process's limit on open files.
        static let shared = Budget(limit: OpenFileCache.openFileLimit / 4)

        var keptFiles: Int { kept.load(ordering: .relaxed) }

        /// Takes one file's place; false when none is left.
        func take() -> Bool {
            var current = kept.load(ordering: .relaxed)
            while current < limit {
                let (exchanged, original) = kept.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
                if exchanged { return true }
                current = original
            }
            return false
        }

        func give(_ count: Int) {
            kept.subtract(count, ordering: .relaxed)
        }
    }

    private struct State: ~Copyable {
        var files: [String: OpenFile] = [:]
        /// Paths in the order they were kept, from `oldest` on (one per file kept); the oldest
        /// goes first. Entries before `oldest` are already gone, dropped in one go once there are
        /// `capacity` of them.
        var order: [String] = []
        var oldest = 0
    }

    let capacity: Int
    private let budget: Budget
    private let state = PThreadMutex(State())

    init(capacity: Int = 32, budget: Budget = .shared) {
        precondition(capacity > 0, "a cache of open files holds at least one")
        self.capacity = capacity
        self.budget = budget
    }

    deinit {
        budget.give(state.withLock { $0.files.count })
    }

    /// A capacity that fits the process's limit on open files: an eighth of it, between 32 and
    /// 1 024. Several peers mirroring one tree ask for its files in the same order, each some
    /// files behind another; kept long enough, a file opened for the first is still open for
    /// the others.
    static var capacityForOpenFileLimit: Int {
        min(max(openFileLimit / 8, 32), 1_024)
    }

    /// The process's soft limit on open files (8 192 when it cannot be read or is unlimited).
    static var openFileLimit: Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 8_192 }
        return Int(clamping: limit.rlim_cur)
    }

    func file(at path: String) -> OpenFile? {
        state.withLock { $0.files[path] }
    }

    func keep(_ file: OpenFile, at path: String) {
        state.withLock { state in
            if state.files[path] != nil {
                state.files[path] = file
                return
            }
            if state.files.count >= capacity {
                // Full: the oldest is closed and the new file takes its place in the budget.
                state.files[state.order[state.oldest]] = nil
                state.oldest += 1
                if state.oldest >= capacity {
                    state.order.removeFirst(state.oldest)
                    state.oldest = 0
                }
            } else if !budget.take() {
                // The process keeps as many files open as it should: this one is not kept.
                return
            }
            state.files[path] = file
            state.order.append(path)
        }
    }

    func evict(_ path: String) {
        state.withLock { state in
            guard state.files.removeValue(forKey: path) != nil else { return }
            budget.give(1)
            if let position = state.order[state.oldest...].firstIndex(of: path) { state.order.remove(at: position) }
        }
    }

    func removeAll() {
        state.withLock { state in
            budget.give(state.files.count)
            state.files.removeAll()
            state.order.removeAll()
            state.oldest = 0
        }
    }
}
