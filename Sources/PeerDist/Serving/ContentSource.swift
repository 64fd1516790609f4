import NIOCore
import PeerDistHashing
import PeerDistWire

/// What a node serves from: its published files and its cache, as seen by the block server.
///
/// Every block it returns has been checked against its hash: a cached block when it was stored,
/// a published file's block when first read and again whenever the file's stamp moved, so a
/// changed file never puts a stale block on the wire (see `ContentStore.readBlockToServe`).
public protocol ContentSource: Sendable {
    /// The content whose discovery key this is, with its Content Information.
    func content(forDiscoveryKey key: HashValue) -> (id: ContentID, information: ContentInformation)?
    /// Which blocks of the content the node can serve, as bits by block number (see
    /// `PeerMessage.availability`); nil when it knows nothing of the content.
    func availability(of id: ContentID) -> (blockCount: Int, bits: [UInt8])?
    /// The segment with this ID (HoHoDk): its description, where the node holds any of it.
    func segment(withID segmentID: HashValue) -> SegmentDescription?
    /// The content the segment with this ID belongs to, where the node holds any of it.
    func contentID(ofSegment segmentID: HashValue) -> ContentID?
    /// Which blocks of the segment the node holds and has verified.
    func heldBlocks(of segment: SegmentDescription) -> [BlockRange]
    /// The verified bytes of a block, or `nil` when the node does not hold it (or it went stale).
    func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]?
    /// `verifiedBlock` for the blocks of one request, by index, each in a buffer from the
    /// allocator: a source that reads files finds the segment and opens each file once for the
    /// request, and reads each block straight into what is sent.
    func blockReader(of segment: SegmentDescription) -> BlockReading
}

/// Reads one verified block of a segment by index into a buffer from the allocator; nil when
/// the block is not held. Made for one request and used by one task.
public typealias BlockReading = (_ index: Int, _ allocator: ByteBufferAllocator) -> ByteBuffer?

extension ContentSource {
    func blockReader(of segment: SegmentDescription) -> BlockReading {
        { index, allocator in verifiedBlock(of: segment, index: index).map { allocator.buffer(bytes: $0) } }
    }
}
