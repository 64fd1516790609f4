import PeerDistHashing
import PeerDistWire

/// The blocks a BranchCache server may hand out: segments found by their public ID (HoHoDk),
/// which blocks of each are held, and their bytes, each already checked against its hash.
///
/// The node's content store is one (`PeerDist.ContentSource` has the same three requirements);
/// tests use a dictionary.
public protocol BranchCacheSegmentSource: Sendable {
    /// The segment with this ID, where any of it is held; its segment secret keys the blocks.
    func segment(withID segmentID: HashValue) -> SegmentDescription?
    /// Which blocks of the segment are held and verified.
    func heldBlocks(of segment: SegmentDescription) -> [BlockRange]
    /// A block's verified bytes, or `nil` when it is not held (or went stale).
    func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]?
    /// A version 2 segment held only as it was pulled, encrypted, by a hosted cache that was
    /// given its ID alone (see `HostedSegments`); served as it is to a request for its CryptoAlgoId.
    func sealedSegment(withID segmentID: HashValue) -> SealedSegment?
    /// Whether such a segment is held, without reading it (block and segment lists ask this).
    func holdsSealedSegment(withID segmentID: HashValue) -> Bool
}

extension BranchCacheSegmentSource {
    public func sealedSegment(withID segmentID: HashValue) -> SealedSegment? { nil }
    public func holdsSealedSegment(withID segmentID: HashValue) -> Bool { sealedSegment(withID: segmentID) != nil }
}
