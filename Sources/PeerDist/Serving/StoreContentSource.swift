import NIOCore
import PeerDistHashing
import PeerDistStore
import PeerDistWire
import Synchronization

/// Serves blocks from a `ContentStore`: looks content up by discovery key (computed from each
/// stored content ID, and recomputed when the store gains content) and reads verified blocks.
final class StoreContentSource: ContentSource {
    private let store: ContentStore
    private let discoveryKeys = PThreadMutex<[HashValue: ContentID]>([:])
    /// Segment descriptions per content: deriving them costs an HMAC each, so it is done once.
    private let descriptions = PThreadMutex<[ContentID: [SegmentDescription]]>([:])

    init(store: ContentStore) {
        self.store = store
    }

    func content(forDiscoveryKey key: HashValue) -> (id: ContentID, information: ContentInformation)? {
        var id = discoveryKeys.withLock { $0[key] }
        if id == nil {
            let known = Dictionary(store.entries().map { ($0.contentID.discoveryKey, $0.contentID) }, uniquingKeysWith: { first, _ in first })
            discoveryKeys.withLock { $0 = known }
            id = known[key]
        }
        guard let id, let information = store.contentInformation(for: id) else { return nil }
        return (id, information)
    }

    func availability(of id: ContentID) -> (blockCount: Int, bits: [UInt8])? {
        store.heldBlockBits(contentID: id)
    }

    func segment(withID segmentID: HashValue) -> SegmentDescription? {
        guard let located = store.locateSegment(id: segmentID) else { return nil }
        if let cached = descriptions.withLock({ $0[located.contentID] }) {
            return cached.indices.contains(located.segmentIndex) ? cached[located.segmentIndex] : nil
        }
        guard let information = store.contentInformation(for: located.contentID) else { return nil }
        let all = information.segments
        descriptions.withLock { $0[located.contentID] = all }
        return all.indices.contains(located.segmentIndex) ? all[located.segmentIndex] : nil
    }

    func contentID(ofSegment segmentID: HashValue) -> ContentID? {
        store.locateSegment(id: segmentID)?.contentID
    }

    func heldBlocks(of segment: SegmentDescription) -> [BlockRange] {
        guard let located = store.locateSegment(id: segment.segmentID) else { return [] }
        // One look at the segment (and at a published file's status), not one per block.
        let held = store.blocksHeld(contentID: located.contentID, segmentIndex: located.segmentIndex)?.ranges ?? []
        return held.map { BlockRange(index: UInt32($0.lowerBound), count: UInt32($0.count)) }
    }

    func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? {
        guard let located = store.locateSegment(id: segment.segmentID) else { return nil }
        return try? store.readBlockToServe(contentID: located.contentID, segmentIndex: located.segmentIndex, blockIndex: index)
    }

    func blockReader(of segment: SegmentDescription) -> BlockReading {
        guard let located = store.locateSegment(id: segment.segmentID),
              let reader = store.blockReader(contentID: located.contentID, segmentIndex: located.segmentIndex)
        else { return { _, _ in nil } }
        return { index, allocator in
            guard let length = reader.length(ofBlock: index) else { return nil }
            var buffer = allocator.buffer(capacity: length)
            var served = false
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { space in
                let block = UnsafeMutableRawBufferPointer(rebasing: space[..<length])
                served = (try? reader.read(block: index, into: block)) ?? false
                return served ? length : 0
            }
            return served ? buffer : nil
        }
    }
}
