import PeerDistHashing
import PeerDistWire

/// MSG_BLKLIST: the blocks the server holds of those asked for, and the next one it holds past
/// them (0 for none). No ranges: it holds none, or it is serving as many clients as it will.
///
/// `SegID ‖ BlockRangeCount(4) ‖ BLOCK_RANGE × count ‖ NextBlockIndex(4)`.
public struct PCCRRBlockList: Hashable, Sendable {
    public var segmentID: HashValue
    public var ranges: [BlockRange]
    public var nextBlockIndex: UInt32

    public init(segmentID: HashValue, ranges: [BlockRange], nextBlockIndex: UInt32) {
        self.segmentID = segmentID
        self.ranges = ranges
        self.nextBlockIndex = nextBlockIndex
    }

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        segmentID = try reader.segmentID()
        ranges = try reader.blockRanges(atLeast: 0, "BlockRangeCount")
        nextBlockIndex = try reader.blockIndex("NextBlockIndex")
    }

    func write(to writer: inout FieldWriter) {
        writer.appendSegmentID(segmentID)
        writer.append(ranges)
        writer.append(nextBlockIndex)
    }
}
