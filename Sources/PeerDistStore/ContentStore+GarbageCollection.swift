import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Keeping the cache directory to what the index owns and the cache under its quota.
extension ContentStore {
    /// Removes cache files no index entry owns (left by crashes and removals), then evicts
    /// complete cached contents, least recently used first, until the cache fits its quota.
    /// Downloads in progress and published files are never evicted, and published files never
    /// count against the quota.
    @discardableResult
    public func collectGarbage() -> GarbageReport {
        state.withLock { state in
            var report = GarbageReport()
            for name in (try? StorePaths.contents(of: cacheDirectory)) ?? [] where !isOwned(name, by: state) {
                let path = "\(cacheDirectory)/\(name)"
                let size = (try? FileStatus.of(path))?.size ?? 0
                guard (try? StorePaths.remove(path)) != nil else { continue }
                report.removedFiles.append(path)
                report.freedBytes += size
            }
            report.removedFiles.sort()

            var usage = state.index.cache.values.reduce(UInt64(0)) { total, entry in
                total + (entry.isComplete ? entry.size : state.partials[entry.contentID]?.heldBytes ?? 0)
            }
            if let quotaBytes, usage > quotaBytes {
                let candidates = state.index.cache.values.filter(\.isComplete).sorted { $0.lastAccess < $1.lastAccess }
                for entry in candidates where usage > quotaBytes {
                    guard (try? removeCached(entry.contentID, from: &state)) != nil else { break }
                    report.evicted.append(entry.contentID)
                    report.freedBytes += entry.size
                    usage -= entry.size
                }
            }
            report.cacheBytes = usage
            return report
        }
    }

    /// Whether a file in the cache directory belongs to an index entry in its current state.
    private func isOwned(_ name: String, by state: borrowing State) -> Bool {
        if name.hasPrefix(".") {
            // An `AtomicFile` temporary, ".<name>.partial-<pid>-<random>": ours may be a bitmap
            // being written right now; any other process's was left by a crash.
            return name.split(separator: "-").dropLast().last == Substring(String(getpid()))
        }
        let parts = name.split(separator: ".")
        guard parts.count == 2, let bytes = Hex.decode(parts[0]), let id = ContentID(bytes: bytes),
              let file = CacheFile(rawValue: String(parts[1])), let entry = state.index.cache[id]
        else { return false }
        return entry.isComplete ? file == .data : file != .data
    }
}
