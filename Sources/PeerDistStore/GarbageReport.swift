import PeerDistHashing

/// What `ContentStore.collectGarbage()` did.
public struct GarbageReport: Hashable, Sendable {
    /// Files in the cache directory that no index entry owned, removed.
    public var removedFiles: [String] = []
    /// Complete cached contents evicted to get under the quota, least recently used first.
    public var evicted: [ContentID] = []
    /// Bytes freed by both.
    public var freedBytes: UInt64 = 0
    /// Bytes the cache holds afterwards: complete contents whole, downloads by their held blocks.
    public var cacheBytes: UInt64 = 0

    public init() {}
}
