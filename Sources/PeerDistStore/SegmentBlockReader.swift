import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Reads blocks of one segment for one request, keeping open what it read from.
///
/// Serving a block one call at a time opened the file, checked its stamp before and after the
/// read, and closed it again: 6 % of a server's time in a profile of a transfer. A reader looks up
/// where the segment lies once, opens each file once, and checks a published file's stamp once
/// per block: the stamp after one read is the stamp before the next. What is served is what
/// `ContentStore.readBlockToServe` serves (it reads through a reader of its own).
///
/// Not shared between threads: a request handler makes one, reads its blocks in turn and lets it go.
public final class SegmentBlockReader {
    private enum Place {
        /// A published file, opened on first use; `stamp` is its stamp after the last read.
        case published(path: String, status: FileStatus, file: StoreFile?, stamp: FileStamp?, settling: Int64?)
        case partial(PartialContent)
        case complete(path: String, file: StoreFile?)
        /// A place that failed: not read from again by this reader.
        case dropped
    }

    private let store: ContentStore
    private let contentID: ContentID
    private let layout: ContentLayout
    private let segmentIndex: Int
    private var places: [Place]
    private var touched = false

    init?(store: ContentStore, contentID: ContentID, segmentIndex: Int) {
        guard let (layout, sources) = store.sources(for: contentID), layout.segments.indices.contains(segmentIndex) else { return nil }
        self.store = store
        self.contentID = contentID
        self.layout = layout
        self.segmentIndex = segmentIndex
        places = sources.map { source in
            switch source {
            case .published(let path, let status): .published(path: path, status: status, file: nil, stamp: nil, settling: nil)
            case .partial(let partial): .partial(partial)
            case .complete(let path): .complete(path: path, file: nil)
            }
        }
    }

    /// The length of block `index` of the segment; nil when there is no such block.
    public func length(ofBlock index: Int) -> Int? {
        layout.blockNumber(segment: segmentIndex, block: index).map { Int(layout.byteRange(ofBlock: $0).count64) }
    }

    /// Reads block `index` into `buffer`, which must be exactly its length (see `length(ofBlock:)`):
    /// hashed unless this node verified it before under the file's present stamp. False when no
    /// place holds a good copy (then `buffer` holds no meaning).
    public func read(block index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Bool {
        guard let number = layout.blockNumber(segment: segmentIndex, block: index) else { return false }
        let range = layout.byteRange(ofBlock: number)
        guard buffer.count == Int(range.count64) else { return false }
        for position in places.indices {
            let served: Bool
            switch places[position] {
            case .published:
                served = readPublished(at: position, range: range, number: number, into: buffer)
            case .partial(let partial):
                served = try partial.read(number, into: buffer)
            case .complete(let path, let open):
                do throws(StoreError) {
                    let file: StoreFile
                    if let open { file = open } else { file = try StoreFile.open(path, flags: O_RDONLY) }
                    places[position] = .complete(path: path, file: file)
                    served = try file.read(into: buffer, at: range.lowerBound) == buffer.count
                } catch where error.code == .notFound {
                    places[position] = .dropped
                    served = false
                }
            case .dropped:
                served = false
            }
            guard served else { continue }
            if !touched {
                touched = true
                store.touch(contentID)
            }
            return true
        }
        return false
    }

    /// Reads a published file's block into `buffer`, unhashed when it was verified under the stamp
    /// the file had before and after the read, else hashed (and then trusted while the stamp
    /// holds). A file that is not the one published, or a block that fails its hash, marks the
    /// publication stale and drops the place.
    private func readPublished(at position: Int, range: Range<UInt64>, number: Int, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard case .published(let path, let status, let open, let before, let knownSettling) = places[position] else { return false }
        let now = FileStamp.now()
        func drop() -> Bool {
            places[position] = .dropped
            store.markStale(path: path, status: status)
            return false
        }
        guard let file = open ?? (try? StoreFile.open(path, flags: O_RDONLY)),
              let before = before ?? (try? file.stamp()), before.status.matches(status),
              (try? file.read(into: buffer, at: range.lowerBound)) == buffer.count,
              let after = try? file.stamp()
        else { return drop() }
        // A write during the read moves the ctime (the kernel sets it before copying the data).
        let unchanged = after == before
        places[position] = .published(path: path, status: status, file: file, stamp: after, settling: knownSettling)
        let trust = store.servingTrust
        if unchanged, trust.withLock({ $0.isVerified(path: path, number: number, stamp: after) }) { return true }
        let (segment, block) = layout.address(ofBlock: number)
        guard layout.verify(UnsafeRawBufferPointer(buffer), segment: segment, block: block) else {
            trust.withLock { $0.forget(path: path) }
            return drop()
        }
        if unchanged {
            // Asked of the file system only when a block is hashed, once per reader.
            let settling = knownSettling ?? FileStamp.settlingNanoseconds(ofFileSystemOf: file.descriptor)
            places[position] = .published(path: path, status: status, file: file, stamp: after, settling: settling)
            trust.withLock { $0.verified(path: path, number: number, blockCount: layout.blockCount, stamp: after, now: now, settling: settling) }
        }
        return true
    }
}

extension ContentStore {
    /// A reader of the blocks of segment `segmentIndex` of `id`; nil when the store knows no such segment.
    public func blockReader(contentID id: ContentID, segmentIndex: Int) -> SegmentBlockReader? {
        SegmentBlockReader(store: self, contentID: id, segmentIndex: segmentIndex)
    }
}
