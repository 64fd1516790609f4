import Glibc

/// The process's limit on open files, as a node wants it (its heap settings: `HeapTuning`).
enum OpenFileLimit {
    /// Raises the soft limit to the hard one (at most 65 536), as servers do: a node keeps files
    /// it serves open, up to a quarter of the limit.
    static func raiseToHardLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = min(limit.rlim_max, 65_536)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = wanted
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}
