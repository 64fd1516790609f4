#if canImport(Glibc)
import Glibc
#endif
import PeerDistHashing

/// Keeps glibc from handing freed heap memory back to the kernel while blocks stream through,
/// and from keeping it in an arena per thread. Process-wide, so the executable applies it when it opens a node; the library leaves the heap
/// of the programs that embed it alone.
///
/// Blocks travel in buffers of about 64 KiB that one thread allocates and another frees. With
/// glibc's defaults (a heap is trimmed whenever 128 KiB lie free at its top) the heap shrank and
/// grew back all the time, and each regrowth faulted in fresh zeroed pages: serving 1 GiB took
/// some 86,000 page faults and 0.35 CPU-s of system time, against 3,000 faults with these
/// settings. Freed memory is kept for reuse up to `trimThreshold`; allocations below
/// `mapThreshold` come from the heap rather than from a mapping of their own, which would be
/// unmapped (and faulted in again) every time.
///
/// glibc gives each thread that allocates its own arena, up to eight per processor, and each
/// keeps what it freed. A node's threads (event loops, the concurrency pool, file I/O, hashing)
/// then held several times the memory in use: a mirror follower of a 1 GiB tree peaked at
/// 123 MiB with about 48 MiB live. One arena per processor and a trim threshold of 16 MiB
/// brought the mirror benchmark's largest node from 110, 123 and 90 MiB (its three phases) to
/// 94, 103 and 80 MiB, and the transfer benchmark's CPU per GiB did not move beyond its noise.
enum HeapTuning {
    static let trimThreshold: Int32 = 16 << 20
    static let mapThreshold: Int32 = 4 << 20
    static var arenaLimit: Int32 { Int32(clamping: max(2, FileHasher.processorCount)) }

    /// Applies the settings once per process; later calls do nothing.
    static func apply() {
        _ = applied
    }

    private static let applied: Bool = {
        #if canImport(Glibc)
        // <malloc.h> is not part of Swift's Glibc module, so `mallopt` is looked up by name;
        // -1, -3 and -8 are its M_TRIM_THRESHOLD, M_MMAP_THRESHOLD and M_ARENA_MAX.
        typealias MallocOption = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: MallocOption.self)
        return mallopt(-1, trimThreshold) == 1 && mallopt(-3, mapThreshold) == 1 && mallopt(-8, arenaLimit) == 1
        #else
        return false
        #endif
    }()
}
