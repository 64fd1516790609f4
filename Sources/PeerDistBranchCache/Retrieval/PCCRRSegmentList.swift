import PeerDistHashing
import PeerDistWire

/// MSG_GETSEGLIST (version 2.0): which of these segments does the server hold? Sent by hosted
/// cache clients (Windows 8 and later) before they ask for blocks.
///
/// `RequestID(16) ‖ CountOfSegmentIDs(4) ‖ SegID × count ‖ SizeOfExtensibleBlob(4) ‖ blob`,
/// 1 to `PCCRR.Limits.maximumSegmentIDs` segment IDs.
public struct PCCRRGetSegmentList: Hashable, Sendable {
    /// Unique per outstanding request; the SEGLIST carries it back.
    public var requestID: [UInt8]
    public var segmentIDs: [HashValue]
    /// An extensible blob, kept as sent (see `PCCRRSegmentAges`); usually empty in a request.
    public var extensibleBlob: [UInt8]

    public init(requestID: [UInt8], segmentIDs: [HashValue], extensibleBlob: [UInt8] = []) {
        self.requestID = requestID
        self.segmentIDs = segmentIDs
        self.extensibleBlob = extensibleBlob
    }

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        requestID = try reader.bytes(PCCRR.Limits.requestIDBytes, "RequestID")
        let position = reader.offset
        // A segment ID takes 36 bytes at least (size, 32-byte digest).
        let count = try reader.count(UInt32.self, ofItemsAtLeast: 36, "CountOfSegmentIDs")
        guard count >= 1, count <= PCCRR.Limits.maximumSegmentIDs else {
            throw reader.failure("CountOfSegmentIDs \(count) is outside 1…\(PCCRR.Limits.maximumSegmentIDs)", at: position)
        }
        var ids: [HashValue] = []
        ids.reserveCapacity(count)
        for _ in 0..<count { ids.append(try reader.segmentID()) }
        segmentIDs = ids
        extensibleBlob = try reader.extensibleBlob()
    }

    func write(to writer: inout FieldWriter) {
        writer.append(contentsOf: requestID)
        writer.append(UInt32(segmentIDs.count))
        for id in segmentIDs { writer.appendSegmentID(id) }
        writer.appendExtensibleBlob(extensibleBlob)
    }
}

/// MSG_SEGLIST (version 2.0): the segments the server holds, as ranges of indexes into the
/// request's list of IDs. No ranges: it holds none, or it is serving as many clients as it will.
///
/// `RequestID(16) ‖ SegmentRangeCount(4) ‖ SEGMENT_RANGE(Index(4) ‖ Count(4)) × count ‖
/// SizeOfExtensibleBlob(4) ‖ blob`.
public struct PCCRRSegmentList: Hashable, Sendable {
    public var requestID: [UInt8]
    /// Index and count into the request's segment IDs; `BlockRange` has the same shape.
    public var ranges: [BlockRange]
    /// An extensible blob version 1: the held segments' ages (see `PCCRRSegmentAges`).
    public var extensibleBlob: [UInt8]

    public init(requestID: [UInt8], ranges: [BlockRange], extensibleBlob: [UInt8] = []) {
        self.requestID = requestID
        self.ranges = ranges
        self.extensibleBlob = extensibleBlob
    }

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        requestID = try reader.bytes(PCCRR.Limits.requestIDBytes, "RequestID")
        let position = reader.offset
        let count = try reader.count(UInt32.self, ofItemsAtLeast: 8, "SegmentRangeCount")
        guard count <= PCCRR.Limits.maximumSegmentIDs else {
            throw reader.failure("SegmentRangeCount \(count) is more than the \(PCCRR.Limits.maximumSegmentIDs) segments a request names", at: position)
        }
        var ranges: [BlockRange] = []
        ranges.reserveCapacity(count)
        for number in 0..<count {
            let start = reader.offset
            let index = try reader.integer(UInt32.self, "index of segment range \(number)")
            let segments = try reader.integer(UInt32.self, "count of segment range \(number)")
            guard segments >= 1, UInt64(index) + UInt64(segments) <= UInt64(PCCRR.Limits.maximumSegmentIDs) else {
                throw reader.failure(
                    "segment range \(number) counts \(segments) segments from index \(index); a range holds 1 or more of at most \(PCCRR.Limits.maximumSegmentIDs)", at: start)
            }
            ranges.append(BlockRange(index: index, count: segments))
        }
        self.ranges = ranges
        extensibleBlob = try reader.extensibleBlob()
    }

    func write(to writer: inout FieldWriter) {
        writer.append(contentsOf: requestID)
        writer.append(ranges)
        writer.appendExtensibleBlob(extensibleBlob)
    }

    /// Whether every range lies within a request that named `count` segments (a client discards
    /// a SEGLIST that does not).
    public func fits(segmentCount count: Int) -> Bool {
        ranges.allSatisfy { $0.indices.upperBound <= count }
    }
}

/// The extensible blob version 1 of SEGLIST (and of version 2 ProbeMatches): how long ago each
/// held segment was last fetched.
///
/// `Version(2) = 1 ‖ SegmentAgeUnits(1: 1 s, 2: 0.1 s, 3: 0.01 s, 4: 1 ms) ‖ SegmentAgeCount(1) ‖
/// (SegmentIndex(1) ‖ age(3, low byte first)) × count`. MS-PCCRR has a receiver discard a blob
/// that does not parse rather than the message, so `init?` returns nil for one.
public struct PCCRRSegmentAges: Hashable, Sendable {
    public enum Unit: UInt8, Hashable, Sendable {
        case seconds = 1
        case tenthsOfASecond = 2
        case hundredthsOfASecond = 3
        case milliseconds = 4
    }

    public var unit: Unit
    /// Segment index (into the request's list) and age in `unit`s (below 2^24).
    public var ages: [(index: UInt8, age: UInt32)]

    public init(unit: Unit = .hundredthsOfASecond, ages: [(index: UInt8, age: UInt32)] = []) {
        self.unit = unit
        self.ages = ages
    }

    public init?(blob: [UInt8]) {
        guard blob.count >= 4, blob[0] == 0, blob[1] == 1, let unit = Unit(rawValue: blob[2]) else { return nil }
        let count = Int(blob[3])
        guard blob.count >= 4 * (count + 1) else { return nil }
        self.unit = unit
        ages = (0..<count).map { entry in
            let at = 4 + 4 * entry
            return (blob[at], UInt32(blob[at + 1]) | UInt32(blob[at + 2]) << 8 | UInt32(blob[at + 3]) << 16)
        }
    }

    public var blob: [UInt8] {
        var bytes: [UInt8] = [0, 1, unit.rawValue, UInt8(clamping: ages.count)]
        for (index, age) in ages.prefix(255) {
            let clamped = min(age, 0xFF_FFFF)
            bytes += [index, UInt8(clamped & 0xFF), UInt8(clamped >> 8 & 0xFF), UInt8(clamped >> 16)]
        }
        return bytes
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.unit == rhs.unit && lhs.ages.map(\.index) == rhs.ages.map(\.index) && lhs.ages.map(\.age) == rhs.ages.map(\.age)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(unit)
        for (index, age) in ages {
            hasher.combine(index)
            hasher.combine(age)
        }
    }
}

extension FieldReader where Failure == BranchCacheError {
    /// SizeOfExtensibleBlob(4) ‖ blob ‖ padding: at most `PCCRR.Limits.maximumExtensibleBlobBytes`,
    /// possibly empty. Its content is the receiver's to judge.
    mutating func extensibleBlob() throws(BranchCacheError) -> [UInt8] {
        let position = offset
        let size = try count(UInt32.self, ofItemsAtLeast: 1, "SizeOfExtensibleBlob")
        guard size <= PCCRR.Limits.maximumExtensibleBlobBytes else {
            throw failure("an extensible blob of \(size) bytes, more than \(PCCRR.Limits.maximumExtensibleBlobBytes)", at: position)
        }
        let blob = try bytes(size, "extensible blob")
        try skipPadding(after: "extensible blob")
        return blob
    }
}

extension FieldWriter {
    mutating func appendExtensibleBlob(_ blob: [UInt8]) {
        append(UInt32(blob.count))
        append(contentsOf: blob)
        appendPadding()
    }
}
