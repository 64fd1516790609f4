import Glibc

/// Settings of the process that a node running for long wants, applied before it opens. (Its
/// heap settings are the node's own: see `HeapTuning`.)
enum ProcessTuning {
    static func forNode() {
        raiseOpenFileLimit()
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
