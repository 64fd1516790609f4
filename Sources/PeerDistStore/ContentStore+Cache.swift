import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Fetching into the cache: starting or resuming a download, finishing it, and bringing the cache
/// directory and the index back into agreement after a crash.
extension ContentStore {
    /// Starts a download of content `id`, or resumes the one already in the cache (its verified
    /// blocks report as held). For content already complete in the cache, the download holds every
    /// block and `finish()` just returns the file.
    ///
    /// `information` must describe the whole content and hash to `id`; the store keeps the
    /// Content Information built with `id.serverSecret`, whatever segment secrets `information` has.
    public func beginDownload(contentID id: ContentID, information: ContentInformation) throws(StoreError) -> Download {
        let known = state.withLock { $0.index.contents[id]?.layout }
        // Checking the blob costs an HMAC per segment: done outside the lock.
        let layout: ContentLayout
        if let known { layout = known } else { layout = try ContentLayout(id: id, information: information) }
        if let quotaBytes, layout.length > quotaBytes {
            throw StoreError(.quotaExceeded, "\(id.shortName): \(layout.length) bytes cannot fit in the cache quota of \(quotaBytes) bytes")
        }
        let partial = try state.withLock { (state) throws(StoreError) -> PartialContent in
            if let partial = state.partials[id] { return partial }
            if state.index.cache[id]?.isComplete == true {
                return PartialContent(finished: state.index.contents[id]?.layout ?? layout, directory: cacheDirectory)
            }
            let layout = state.index.contents[id]?.layout ?? layout
            // The file comes first: a crash before the entry is logged leaves only a file without
            // an entry, which garbage collection removes.
            let partial = try PartialContent(layout: layout, directory: cacheDirectory, flushInterval: flushInterval, resume: false)
            let record = CacheRecord(
                contentID: id, isComplete: false, size: layout.length, lastAccess: StoreClock.now(),
                information: layout.information.encoded())
            do throws(StoreError) {
                try state.commit(.cached(record), layout: layout)
            } catch {
                try? StorePaths.remove(partial.partialPath)
                throw error
            }
            state.partials[id] = partial
            return partial
        }
        return Download(store: self, partial: partial)
    }

    /// Finishes `partial`'s download: the data file is synced and renamed before the log records
    /// the entry complete, so a crash in between is recognised on open (`reconcileCache`).
    func finishDownload(_ partial: PartialContent) throws(StoreError) -> String {
        let id = partial.layout.id
        return try state.withLock { (state) throws(StoreError) -> String in
            guard let entry = state.index.cache[id] else {
                throw StoreError(.notFound, "\(id.shortName): the download was removed from the store")
            }
            if entry.isComplete { return partial.dataPath }
            try partial.finish()
            state.partials[id] = nil
            // The data is in place whatever happens to this record; if it is lost, the next open
            // finds the finished file and the full bitmap and records the entry complete then.
            state.index.apply(.completed(id))
            try state.log.append(.completed(id), durable: true)
            try? StorePaths.remove(partial.bitmapPath)
            return partial.dataPath
        }
    }

    /// Whether the file at `path` holds every block of `layout`, each matching its hash.
    private static func holdsEveryBlock(_ path: String, layout: ContentLayout) throws(StoreError) -> Bool {
        let file = try StoreFile.open(path, flags: O_RDONLY)
        for number in 0..<layout.blockCount {
            let range = layout.byteRange(ofBlock: number)
            let (segment, block) = layout.address(ofBlock: number)
            guard layout.verify(try file.read(count: Int(range.count64), at: range.lowerBound), segment: segment, block: block) else {
                return false
            }
        }
        return true
    }

    /// Makes the index and the cache files agree after a crash or outside interference:
    /// - a complete entry whose data file is missing or the wrong size is dropped;
    /// - a download interrupted between its rename and its log record is recorded complete
    ///   (when its bitmap is full, or failing that when every block of the file checks out);
    /// - every other download is reopened from its bitmap (from nothing if the bitmap is gone).
    static func reconcileCache(_ state: inout State, directory: String, flushInterval: UInt64) throws(StoreError) {
        for entry in state.index.cache.values.sorted(by: { $0.contentID.hex < $1.contentID.hex }) {
            guard let layout = state.index.contents[entry.contentID]?.layout else { continue }
            let id = entry.contentID
            let data = "\(directory)/\(id.hex).data"
            let partialPath = "\(directory)/\(id.hex).partial"
            let bitmap = "\(directory)/\(id.hex).bitmap"
            if entry.isComplete {
                if try FileStatus.of(data)?.size != layout.length {
                    try state.commit(.uncached(id))
                    for path in [data, partialPath, bitmap] { try? StorePaths.remove(path) }
                }
                continue
            }
            if try FileStatus.of(partialPath) == nil, try FileStatus.of(data)?.size == layout.length {
                // Normally the full bitmap shows the download finished; if it is gone too, the
                // file's blocks are checked one by one rather than thrown away.
                var finished = try PartialContent.readBitmap(at: bitmap, layout: layout)?.isComplete == true
                if !finished { finished = try holdsEveryBlock(data, layout: layout) }
                if finished {
                    try state.commit(.completed(id))
                    try StorePaths.remove(bitmap)
                    continue
                }
            }
            try? StorePaths.remove(data)
            state.partials[id] = try PartialContent(layout: layout, directory: directory, flushInterval: flushInterval, resume: true)
        }
    }
}
