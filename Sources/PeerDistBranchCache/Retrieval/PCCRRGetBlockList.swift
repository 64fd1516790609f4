import PeerDistHashing
import PeerDistWire

/// MSG_GETBLKLIST: which of these blocks of the segment does the server hold?
///
/// `SegID ‖ NeededBlocksRangeCount(4) ‖ BLOCK_RANGE × count`, 1 to 256 ranges.
public struct PCCRRGetBlockList: Hashable, Sendable {
    public var segmentID: HashValue
    public var neededRanges: [BlockRange]

    public init(segmentID: HashValue, neededRanges: [BlockRange]) {
        self.segmentID = segmentID
        self.neededRanges = neededRanges
    }

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        segmentID = try reader.segmentID()
        neededRanges = try reader.blockRanges(atLeast: 1, "NeededBlocksRangeCount")
    }

    func write(to writer: inout FieldWriter) {
        writer.appendSegmentID(segmentID)
        writer.append(neededRanges)
    }
}
