import CSystemCalls
import Glibc

/// Settings of the process that a node running for long wants, applied before it opens.
enum ProcessTuning {
    static func forNode() {
        keepFreedMemory()
        raiseOpenFileLimit()
    }

    /// Blocks smaller than this come from the heap, and are reused, rather than being mapped and
    /// unmapped one by one.
    static let mappingThreshold: Int32 = 32 << 20
    /// Free memory at the top of a heap is handed back only beyond this.
    static let trimThreshold: Int32 = 128 << 20

    /// By default glibc hands freed memory back to the kernel (trimming the heap, unmapping large
    /// blocks) and faults fresh, zeroed pages in when it needs them again. A node receiving chunks
    /// allocates and frees buffers of 32–128 KiB all day, and an update's plans and tables of
    /// megabytes once per version: giving that memory back and taking it again costs page faults
    /// and zeroing each time (on a VM whose host reclaims free pages, far more). Kept, the
    /// resident size stays near its peak instead of falling back after a burst.
    static func keepFreedMemory() {
        // Fails only for values glibc refuses; its defaults then stay, which is safe.
        _ = peerdist_keep_freed_memory(mappingThreshold, trimThreshold)
    }

    /// Raises the soft limit on open files to the hard one (at most 65 536), as servers do: a
    /// node keeps files it serves open, as many as an eighth of the limit.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = min(limit.rlim_max, 65_536)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = wanted
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}
