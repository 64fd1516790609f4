/// A Content Information blob of either version: what a server hands out instead of the content,
/// and what a client needs to find the content's segments on peers and verify every block.
public enum ContentInformation: Hashable, Sendable {
    case version1(ContentInformationV1)
    case version2(ContentInformationV2)

    /// Decodes a blob of either version, telling them apart by the first two bytes read as a
    /// little-endian word: 0x0100 for version 1, 0x0200 for version 2.
    public init(decoding bytes: [UInt8]) throws(ContentInformationError) {
        guard bytes.count >= 2 else {
            throw ContentInformationError(.truncated, field: "Version", offset: 0, reason: "needs 2 bytes, only \(bytes.count) remain")
        }
        switch UInt16(bytes[0]) | UInt16(bytes[1]) << 8 {
        case 0x0100: self = .version1(try ContentInformationV1(decoding: bytes))
        case 0x0200: self = .version2(try ContentInformationV2(decoding: bytes))
        case let word:
            throw ContentInformationError(.unsupportedVersion, field: "Version", offset: 0, reason: "0x\(String(word, radix: 16)) is neither 1.0 (0x0100) nor 2.0 (0x0200)")
        }
    }

    public func encoded() -> [UInt8] {
        switch self {
        case .version1(let information): information.encoded()
        case .version2(let information): information.encoded()
        }
    }

    /// 1 or 2.
    public var version: Int {
        switch self {
        case .version1: 1
        case .version2: 2
        }
    }

    public var hashAlgorithm: HashAlgorithm {
        switch self {
        case .version1(let information): information.hashAlgorithm
        case .version2: .sha512Truncated
        }
    }

    /// The content bytes this blob lets a client fetch and verify.
    public var range: Range<UInt64> {
        switch self {
        case .version1(let information): information.range
        case .version2(let information): information.range
        }
    }

    /// Every listed segment with its offset and segment ID, in content order.
    public var segments: [SegmentDescription] { segments(prefix: .max) }

    /// Segments listed in the blob.
    public var segmentCount: Int {
        switch self {
        case .version1(let information): information.segments.count
        case .version2(let information): information.chunks.reduce(0) { $0 + $1.segments.count }
        }
    }

    /// The first `limit` segments: deriving a segment ID costs an HMAC, so a caller that shows a
    /// few need not pay for every segment of a large file.
    public func segments(prefix limit: Int) -> [SegmentDescription] {
        switch self {
        case .version1(let information):
            return information.segments.prefix(limit).enumerated().map { index, segment in
                SegmentDescription(
                    index: index, offset: segment.offsetInContent, length: segment.length,
                    blockSize: segment.blockSize, blockHashes: segment.blockHashes,
                    hashOfData: segment.hashOfData, segmentSecret: segment.segmentSecret,
                    algorithm: information.hashAlgorithm)
            }
        case .version2(let information):
            // The decoder keeps indexOfFirstSegment + the segment count within Int.max and
            // startInContent + the listed length within UInt64.max; a value built by hand that
            // breaks those bounds stops here with a message, not an arithmetic trap.
            guard let firstIndex = Int(exactly: information.indexOfFirstSegment) else {
                preconditionFailure("ullIndexOfFirstSegment \(information.indexOfFirstSegment) is not a segment index")
            }
            var offset = information.startInContent
            return information.segments.prefix(limit).enumerated().map { position, segment in
                let (index, indexOverflow) = firstIndex.addingReportingOverflow(position)
                let (end, endOverflow) = offset.addingReportingOverflow(UInt64(segment.length))
                precondition(!indexOverflow && !endOverflow, "segment \(position) of the Content Information lies past any content")
                defer { offset = end }
                return SegmentDescription(
                    index: index, offset: offset, length: segment.length,
                    blockSize: segment.length, blockHashes: [segment.hashOfData],
                    hashOfData: segment.hashOfData, segmentSecret: segment.segmentSecret,
                    algorithm: .sha512Truncated)
            }
        }
    }
}

/// One segment as a client uses it, whatever the blob's version.
public struct SegmentDescription: Hashable, Sendable {
    /// Index of the segment within the whole content.
    public let index: Int
    public let offset: UInt64
    public let length: UInt32
    /// 64 KiB in version 1; the whole segment in version 2, whose segments travel as one block.
    public let blockSize: UInt32
    /// The hashes a block is verified against; a version 2 segment's only block hash is its HoD.
    public let blockHashes: [HashValue]
    public let hashOfData: HashValue
    public let segmentSecret: HashValue
    /// HoHoDk: the public name peers advertise.
    public let segmentID: HashValue

    init(index: Int, offset: UInt64, length: UInt32, blockSize: UInt32, blockHashes: [HashValue], hashOfData: HashValue, segmentSecret: HashValue, algorithm: HashAlgorithm) {
        self.index = index
        self.offset = offset
        self.length = length
        self.blockSize = blockSize
        self.blockHashes = blockHashes
        self.hashOfData = hashOfData
        self.segmentSecret = segmentSecret
        self.segmentID = SegmentKeys.segmentID(hashOfData: hashOfData, segmentSecret: segmentSecret, algorithm: algorithm)
    }

    /// Blocks in the whole segment.
    public var blockCount: Int { (Int(length) + Int(blockSize) - 1) / Int(blockSize) }

    /// Where block `index` lies in the content.
    ///
    /// - Precondition: `0 <= index < blockCount`. Then nothing here overflows on a decoded blob:
    ///   its segments end within `UInt64`, and every block but the last is whole (64 KiB blocks
    ///   tile a 32 MiB version 1 segment; a version 2 segment is one block).
    public func blockRange(_ index: Int) -> Range<UInt64> {
        let start = offset + UInt64(index) * UInt64(blockSize)
        return start..<min(start + UInt64(blockSize), offset + UInt64(length))
    }
}
