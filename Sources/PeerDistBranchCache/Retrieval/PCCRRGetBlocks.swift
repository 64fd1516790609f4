import PeerDistHashing
import PeerDistWire

/// MSG_GETBLKS: send a block of the segment. Clients name exactly one range of one block; a
/// server given more serves the lowest.
///
/// `SegID ‖ ReqBlockRangeCount(4) ‖ BLOCK_RANGE × count ‖ SizeOfDataForVrfBlock(4) ‖ data ‖ pad`.
public struct PCCRRGetBlocks: Hashable, Sendable {
    public var segmentID: HashValue
    public var ranges: [BlockRange]
    /// DataForVrfBlock, which no implementation fills; kept so a round trip is exact.
    public var verifierData: [UInt8]

    public init(segmentID: HashValue, ranges: [BlockRange], verifierData: [UInt8] = []) {
        self.segmentID = segmentID
        self.ranges = ranges
        self.verifierData = verifierData
    }

    /// The block a server sends: the lowest index asked for.
    public var requestedIndex: UInt32 {
        ranges.map(\.index).min() ?? 0
    }

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        segmentID = try reader.segmentID()
        ranges = try reader.blockRanges(atLeast: 1, "ReqBlockRangeCount")
        verifierData = try reader.paddedBytes(atMost: PCCRR.Limits.maximumRequestBytes, "DataForVrfBlock")
    }

    func write(to writer: inout FieldWriter) {
        writer.appendSegmentID(segmentID)
        writer.append(ranges)
        writer.appendPadded(verifierData)
    }
}
