import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Answering peers: Content Information, where a segment lies, which blocks are held, and the
/// blocks themselves, each verified against its hash before it first leaves the store (and again
/// after a published file changed: see `readBlockToServe`).
extension ContentStore {
    /// Where a block may be read from, gathered under the lock and read outside it.
    enum Source {
        case published(path: String, status: FileStatus)
        case partial(PartialContent)
        case complete(path: String)
    }

    /// The Content Information of a content the store can serve at least in part: published and
    /// not stale, or cached (complete or not).
    public func contentInformation(for id: ContentID) -> ContentInformation? {
        state.withLock { state in
            guard let content = state.index.contents[id] else { return nil }
            let servable = content.isCached || content.publishedPaths.contains { state.index.publications[$0]?.isStale == false }
            return servable ? content.layout.information : nil
        }
    }

    /// The content and segment a segment ID (HoHoDk) names, if the store knows it.
    public func locateSegment(id: HashValue) -> (contentID: ContentID, segmentIndex: Int)? {
        state.withLock { $0.index.segments[id] }
    }

    /// Which blocks of a segment can be served; nil when the content or segment is unknown.
    /// A published file is checked (size, modification time, inode) and marked stale if it changed.
    public func blocksHeld(contentID id: ContentID, segmentIndex: Int) -> HeldBlocks? {
        guard let (layout, sources) = sources(for: id), layout.segments.indices.contains(segmentIndex) else { return nil }
        let blockCount = layout.segments[segmentIndex].blockCount
        var held = [Bool](repeating: false, count: blockCount)
        for source in sources {
            switch source {
            case .published(let path, let status):
                if let current = try? FileStatus.of(path), current.matches(status) {
                    return HeldBlocks([Bool](repeating: true, count: blockCount))
                }
                markStale(path: path, status: status)
            case .complete:
                return HeldBlocks([Bool](repeating: true, count: blockCount))
            case .partial(let partial):
                for (index, isHeld) in partial.heldBlocks(ofSegment: segmentIndex).enumerated() where isHeld { held[index] = true }
            }
        }
        return HeldBlocks(held)
    }

    /// Which blocks of a content can be served, by block number, as bits (block `n` in bit
    /// `n % 8` of byte `n / 8`) with the block count; nil when the content is unknown.
    public func heldBlockBits(contentID id: ContentID) -> (blockCount: Int, bits: [UInt8])? {
        guard let (layout, sources) = sources(for: id) else { return nil }
        let count = layout.blockCount
        let all = (blockCount: count, bits: BlockBitmap.full(count: count).bitBytes)
        var held: [UInt8]?
        for source in sources {
            switch source {
            case .published(let path, let status):
                if let current = try? FileStatus.of(path), current.matches(status) { return all }
                markStale(path: path, status: status)
            case .complete:
                return all
            case .partial(let partial):
                held = partial.heldBits
            }
        }
        return held.map { (count, $0) } ?? (count, BlockBitmap(count: count).bitBytes)
    }

    /// Whether one block can be served (see `blocksHeld(contentID:segmentIndex:)`, which answers for
    /// a whole segment at once).
    public func isBlockHeld(contentID id: ContentID, segmentIndex: Int, blockIndex: Int) -> Bool {
        blocksHeld(contentID: id, segmentIndex: segmentIndex)?.contains(blockIndex) ?? false
    }

    /// The bytes of one block, read from a publication or the cache and checked against the
    /// block's hash; nil when no source holds a good copy (or there is no such block).
    ///
    /// A published file that changed is marked stale and not read from again until republished;
    /// a cached block that fails its hash is forgotten (a finished download is dropped whole), so
    /// a bad copy is never served.
    public func readVerifiedBlock(contentID id: ContentID, segmentIndex: Int, blockIndex: Int) throws(StoreError) -> [UInt8]? {
        guard let (layout, sources) = sources(for: id),
              let number = layout.blockNumber(segment: segmentIndex, block: blockIndex)
        else { return nil }
        let range = layout.byteRange(ofBlock: number)
        for source in sources {
            let bytes: [UInt8]?
            switch source {
            case .published(let path, let status):
                bytes = readPublished(path: path, status: status, range: range)
                guard let bytes, layout.verify(bytes, segment: segmentIndex, block: blockIndex) else {
                    markStale(path: path, status: status)
                    continue
                }
            case .partial(let partial):
                bytes = try partial.read(number)
                guard let bytes else { continue }
                guard layout.verify(bytes, segment: segmentIndex, block: blockIndex) else {
                    partial.discard(number)
                    continue
                }
            case .complete(let path):
                do throws(StoreError) {
                    let file = try StoreFile.open(path, flags: O_RDONLY)
                    bytes = try file.read(count: Int(range.count64), at: range.lowerBound)
                } catch where error.code == .notFound {
                    bytes = nil
                }
                guard let bytes, layout.verify(bytes, segment: segmentIndex, block: blockIndex) else {
                    dropCorrupt(id)
                    continue
                }
            }
            touch(id)
            return bytes
        }
        return nil
    }

    /// The bytes of one block to send to a peer, hashing only what this node has not verified:
    /// a cached block was verified when it was stored; a published file's block is hashed on its
    /// first read and again only when the file's stamp (size, mtime, ctime, inode) has moved (see
    /// `ServingTrust`). Every receiver verifies every block anyway. Nil when no source holds it.
    public func readBlockToServe(contentID id: ContentID, segmentIndex: Int, blockIndex: Int) throws(StoreError) -> [UInt8]? {
        guard let reader = blockReader(contentID: id, segmentIndex: segmentIndex), let length = reader.length(ofBlock: blockIndex) else { return nil }
        var failure: StoreError?
        var served = false
        let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            do throws(StoreError) {
                served = try reader.read(block: blockIndex, into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
            }
            initialized = served ? length : 0
        }
        if let failure { throw failure }
        return served ? bytes : nil
    }

    /// The layout of `id` and the places its blocks may be read from, best first: the cache
    /// (which the store controls), then publications that are not known to be stale.
    func sources(for id: ContentID) -> (ContentLayout, [Source])? {
        state.withLock { state in
            guard let content = state.index.contents[id] else { return nil }
            var sources: [Source] = []
            if let entry = state.index.cache[id] {
                if entry.isComplete {
                    sources.append(.complete(path: cachePath(id, .data)))
                } else if let partial = state.partials[id] {
                    sources.append(.partial(partial))
                }
            }
            for path in content.publishedPaths.sorted() {
                guard let publication = state.index.publications[path], !publication.isStale else { continue }
                sources.append(.published(path: path, status: publication.status))
            }
            return (content.layout, sources)
        }
    }

    /// The bytes of `range` in a published file, or nil when the file is not the one published
    /// (checked on the open file, so a file swapped in after the check is not read) or unreadable.
    private func readPublished(path: String, status: FileStatus, range: Range<UInt64>) -> [UInt8]? {
        guard let file = try? StoreFile.open(path, flags: O_RDONLY),
              let current = try? file.status(), current.matches(status),
              let bytes = try? file.read(count: Int(range.count64), at: range.lowerBound)
        else { return nil }
        return bytes
    }

    /// Marks the publication of `path` stale, unless it was republished since `status` was read.
    func markStale(path: String, status: FileStatus) {
        state.withLock { state in
            guard let publication = state.index.publications[path], !publication.isStale, publication.status == status else { return }
            // Logged without waiting for the disk: if the record is lost, the next read finds the
            // change again. If the log cannot take it at all, the index still stops serving the file.
            do throws(StoreError) {
                try state.commit(.markedStale(path: path), durable: false)
            } catch {
                state.index.apply(.markedStale(path: path))
            }
        }
    }

    /// Drops a finished download whose file no longer matches its hashes. Its cache name is
    /// deleted; an exported copy, being another name for the file, is left alone.
    private func dropCorrupt(_ id: ContentID) {
        state.withLock { state in
            guard state.index.cache[id]?.isComplete == true else { return }
            try? removeCached(id, from: &state)
        }
    }
}
