import NIOCore
import PeerDistHashing
import PeerDistWire

// The field shapes MS-PCCRR messages share: variable byte strings padded to 4 bytes, segment IDs,
// and block ranges. Padding is relative to the message's start; the 16-byte header keeps a body's
// alignment the same as the message's, so writers can count from the body's start.

extension FieldReader where Failure == BranchCacheError {
    /// `uint32 size ‖ bytes ‖ zero padding to 4 bytes`, at most `maximum` bytes. Padding after the
    /// message's last field may be missing (python-peerdist omits it); its bytes are not checked,
    /// as MS-PCCRR has receivers ignore them.
    mutating func paddedBytes(atMost maximum: Int, _ field: @autoclosure () -> String) throws(BranchCacheError) -> [UInt8] {
        let position = offset
        let count = try count(UInt32.self, ofItemsAtLeast: 1, "size of the \(field())")
        guard count <= maximum else {
            throw failure("the \(field()) is \(count) bytes, more than \(maximum)", at: position)
        }
        let bytes = try bytes(count, field())
        try skipPadding(after: field())
        return bytes
    }

    mutating func skipPadding(after field: @autoclosure () -> String) throws(BranchCacheError) {
        let padding = (4 - offset % 4) % 4
        guard padding > 0, !isAtEnd else { return }
        _ = try bytes(padding, "padding after the \(field())")
    }

    /// SizeOfSegmentID ‖ SegmentID ‖ padding: a digest of 32, 48 or 64 bytes.
    mutating func segmentID() throws(BranchCacheError) -> HashValue {
        let position = offset
        let size = try integer(UInt32.self, "size of the segment ID")
        guard let count = Int(exactly: size), PCCRR.Limits.segmentIDSizes.contains(count) else {
            throw failure("a segment ID of \(size) bytes; IDs are 32, 48 or 64 bytes", at: position)
        }
        let id = HashValue(try bytes(count, "segment ID"))
        try skipPadding(after: "segment ID")
        return id
    }

    /// A block index: 0 to 511.
    mutating func blockIndex(_ field: @autoclosure () -> String) throws(BranchCacheError) -> UInt32 {
        let position = offset
        let index = try integer(UInt32.self, field())
        guard index < PCCRR.Limits.blocksPerSegment else {
            throw failure("\(field()) \(index) is past the segment's \(PCCRR.Limits.blocksPerSegment) blocks", at: position)
        }
        return index
    }

    /// A count of ranges, then BLOCK_RANGEs (Index ‖ Count) each within the segment's 512 blocks.
    mutating func blockRanges(atLeast minimum: Int, _ field: @autoclosure () -> String) throws(BranchCacheError) -> [BlockRange] {
        let position = offset
        let count = try count(UInt32.self, ofItemsAtLeast: 8, field())
        guard count >= minimum, count <= PCCRR.Limits.maximumRanges else {
            throw failure("\(field()) \(count) is outside \(minimum)…\(PCCRR.Limits.maximumRanges)", at: position)
        }
        var ranges: [BlockRange] = []
        ranges.reserveCapacity(count)
        for number in 0..<count {
            let start = offset
            let index = try blockIndex("index of range \(number)")
            let blocks = try integer(UInt32.self, "count of range \(number)")
            guard blocks >= 1, blocks <= UInt32(PCCRR.Limits.blocksPerSegment) - index else {
                throw failure("range \(number) counts \(blocks) blocks from block \(index); a range holds 1 to \(PCCRR.Limits.blocksPerSegment - Int(index))", at: start)
            }
            ranges.append(BlockRange(index: index, count: blocks))
        }
        return ranges
    }
}

extension FieldWriter {
    /// `uint32 size ‖ bytes ‖ zero padding to 4 bytes`, counted from the body's start.
    mutating func appendPadded(_ raw: [UInt8]) {
        append(UInt32(raw.count))
        append(contentsOf: raw)
        appendPadding()
    }

    mutating func appendPadding() {
        append(contentsOf: repeatElement(UInt8(0), count: (4 - bytes.count % 4) % 4))
    }

    mutating func appendSegmentID(_ id: HashValue) {
        appendPadded(id.bytes)
    }

    mutating func append(_ ranges: [BlockRange]) {
        append(UInt32(ranges.count))
        for range in ranges {
            append(range.index)
            append(range.count)
        }
    }

    mutating func append(_ version: PCCRRVersion) {
        append(version.minor)
        append(version.major)
    }
}
