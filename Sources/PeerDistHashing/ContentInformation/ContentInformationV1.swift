/// Content Information version 1.0 (MS-PCCRC §2.3): 32 MiB segments of 64 KiB blocks, every
/// integer little-endian.
///
/// ```
/// header   Version(2) dwHashAlgo(4) dwOffsetInFirstSegment(4) dwReadBytesInLastSegment(4) cSegments(4)
/// segments cSegments × { ullOffsetInContent(8) cbSegment(4) cbBlockSize(4) HoD(D) Kp(D) }
/// blocks   cSegments × { cBlocks(4) cBlocks × BlockHash(D) }
/// ```
public struct ContentInformationV1: Hashable, Sendable {
    public static let segmentSize = 32 * 1024 * 1024
    public static let blockSize = 64 * 1024
    public static let blocksPerSegment = segmentSize / blockSize
    static let versionWord: UInt16 = 0x0100

    public struct Segment: Hashable, Sendable {
        /// Absolute offset of the segment in the content: a multiple of 32 MiB. A decoded blob
        /// keeps it at most `UInt64.max - 32 MiB`, so the segment's end is a `UInt64`.
        public var offsetInContent: UInt64
        /// The whole segment's length, whatever the range: 1 to 32 MiB in a decoded blob.
        public var length: UInt32
        /// 64 KiB in a decoded blob.
        public var blockSize: UInt32
        public var hashOfData: HashValue
        public var segmentSecret: HashValue
        /// `blockHashes[i]` is block `i` counted from the segment's start. A partial range may omit
        /// trailing blocks, so this can be shorter than `blockCount`.
        public var blockHashes: [HashValue]

        public init(
            offsetInContent: UInt64, length: UInt32, blockSize: UInt32 = UInt32(ContentInformationV1.blockSize),
            hashOfData: HashValue, segmentSecret: HashValue, blockHashes: [HashValue]
        ) {
            self.offsetInContent = offsetInContent
            self.length = length
            self.blockSize = blockSize
            self.hashOfData = hashOfData
            self.segmentSecret = segmentSecret
            self.blockHashes = blockHashes
        }

        /// Blocks in the whole segment.
        public var blockCount: Int { (Int(length) + Int(blockSize) - 1) / Int(blockSize) }
    }

    public var hashAlgorithm: HashAlgorithm
    public var offsetInFirstSegment: UInt32
    /// Bytes of the range in the last segment; 0 means the whole last segment.
    public var readBytesInLastSegment: UInt32
    public var segments: [Segment]

    public init(hashAlgorithm: HashAlgorithm = .sha256, offsetInFirstSegment: UInt32 = 0, readBytesInLastSegment: UInt32 = 0, segments: [Segment]) {
        self.hashAlgorithm = hashAlgorithm
        self.offsetInFirstSegment = offsetInFirstSegment
        self.readBytesInLastSegment = readBytesInLastSegment
        self.segments = segments
    }

    /// The content bytes the blob describes, following the iPXE reading of the range fields that
    /// the 2024 specification confirms: a single listed segment counts its read bytes from the range start.
    public var range: Range<UInt64> {
        guard let first = segments.first, let last = segments.last else { return 0..<0 }
        let start = first.offsetInContent + UInt64(offsetInFirstSegment)
        let end: UInt64
        if readBytesInLastSegment == 0 {
            end = last.offsetInContent + UInt64(last.length)
        } else if segments.count == 1 {
            end = start + UInt64(readBytesInLastSegment)
        } else {
            end = last.offsetInContent + UInt64(readBytesInLastSegment)
        }
        return start..<end
    }
}

extension ContentInformationV1 {
    /// Decodes a version 1 blob; every length is checked before it is used.
    public init(decoding bytes: [UInt8]) throws(ContentInformationError) {
        var cursor = ByteCursor(bytes)
        let version = try cursor.readLittleEndian(UInt16.self, field: "Version")
        guard version == Self.versionWord else {
            throw ContentInformationError(.unsupportedVersion, field: "Version", offset: 0, reason: "expected 0x0100, found 0x\(String(version, radix: 16))")
        }
        let algorithmOffset = cursor.offset
        let algorithmCode = try cursor.readLittleEndian(UInt32.self, field: "dwHashAlgo")
        guard let algorithm = HashAlgorithm(version1Code: algorithmCode) else {
            throw ContentInformationError(
                .unsupportedHashAlgorithm, field: "dwHashAlgo", offset: algorithmOffset,
                reason: "0x\(String(algorithmCode, radix: 16)) is not SHA-256 (0x800c), SHA-384 (0x800d) or SHA-512 (0x800e)")
        }
        let digestSize = algorithm.digestSize
        let offsetInFirstSegment = try cursor.readLittleEndian(UInt32.self, field: "dwOffsetInFirstSegment")
        let readBytesInLastSegment = try cursor.readLittleEndian(UInt32.self, field: "dwReadBytesInLastSegment")
        let countOffset = cursor.offset
        let announcedCount = try cursor.readLittleEndian(UInt32.self, field: "cSegments")
        // Each segment needs its description and a block count at least; refuse a count the blob
        // cannot hold, before it becomes an Int or a capacity.
        guard announcedCount <= cursor.remaining / (16 + 2 * digestSize + 4) else {
            throw ContentInformationError(
                .truncated, field: "cSegments", offset: countOffset,
                reason: "\(announcedCount) segments cannot fit in the \(cursor.remaining) bytes that follow")
        }
        let segmentCount = Int(announcedCount)

        var segments: [Segment] = []
        segments.reserveCapacity(segmentCount)
        for index in 0..<segmentCount {
            let field = "SegmentDescription[\(index)]"
            let offsetField = cursor.offset
            let offsetInContent = try cursor.readLittleEndian(UInt64.self, field: "\(field).ullOffsetInContent")
            let lengthField = cursor.offset
            let length = try cursor.readLittleEndian(UInt32.self, field: "\(field).cbSegment")
            let blockSizeField = cursor.offset
            let blockSize = try cursor.readLittleEndian(UInt32.self, field: "\(field).cbBlockSize")
            let hashOfData = try cursor.readHash(digestSize, field: "\(field).SegmentHashOfData")
            let secret = try cursor.readHash(digestSize, field: "\(field).SegmentSecret")

            if let previous = segments.last {
                guard previous.length == UInt32(Self.segmentSize) else {
                    throw ContentInformationError(
                        .invalidValue, field: field, offset: offsetField,
                        reason: "segment \(index - 1) has \(previous.length) bytes, but only the last segment may be shorter than 32 MiB")
                }
                guard offsetInContent == previous.offsetInContent + UInt64(previous.length) else {
                    throw ContentInformationError(
                        .invalidValue, field: "\(field).ullOffsetInContent", offset: offsetField,
                        reason: "\(offsetInContent) does not follow the previous segment, which ends at \(previous.offsetInContent + UInt64(previous.length))")
                }
            } else if !offsetInContent.isMultiple(of: UInt64(Self.segmentSize)) {
                throw ContentInformationError(
                    .invalidValue, field: "\(field).ullOffsetInContent", offset: offsetField,
                    reason: "\(offsetInContent) is not a multiple of 32 MiB")
            }
            guard offsetInContent <= UInt64.max - UInt64(Self.segmentSize) else {
                throw ContentInformationError(.invalidValue, field: "\(field).ullOffsetInContent", offset: offsetField, reason: "\(offsetInContent) is past any content length")
            }
            guard length > 0, length <= UInt32(Self.segmentSize) else {
                throw ContentInformationError(.invalidValue, field: "\(field).cbSegment", offset: lengthField, reason: "\(length) is not in 1...33554432")
            }
            guard blockSize == UInt32(Self.blockSize) else {
                throw ContentInformationError(.invalidValue, field: "\(field).cbBlockSize", offset: blockSizeField, reason: "\(blockSize) is not 65536")
            }
            segments.append(Segment(
                offsetInContent: offsetInContent, length: length, blockSize: blockSize,
                hashOfData: hashOfData, segmentSecret: secret, blockHashes: []))
        }

        for index in segments.indices {
            let field = "SegmentContentBlocks[\(index)]"
            let countField = cursor.offset
            let announcedBlocks = try cursor.readLittleEndian(UInt32.self, field: "\(field).cBlocks")
            // At most 512 (a 32 MiB segment of 64 KiB blocks), so the byte count below cannot overflow.
            guard announcedBlocks >= 1, announcedBlocks <= segments[index].blockCount else {
                throw ContentInformationError(
                    .invalidValue, field: "\(field).cBlocks", offset: countField,
                    reason: "\(announcedBlocks) is not in 1...\(segments[index].blockCount) for a segment of \(segments[index].length) bytes")
            }
            let blockCount = Int(announcedBlocks)
            guard blockCount * digestSize <= cursor.remaining else {
                throw ContentInformationError(
                    .truncated, field: "\(field).BlockHashes", offset: cursor.offset,
                    reason: "\(blockCount) hashes need \(blockCount * digestSize) bytes, only \(cursor.remaining) remain")
            }
            var hashes: [HashValue] = []
            hashes.reserveCapacity(blockCount)
            for block in 0..<blockCount {
                hashes.append(try cursor.readHash(digestSize, field: "\(field).BlockHashes[\(block)]"))
            }
            segments[index].blockHashes = hashes
        }

        guard cursor.isAtEnd else {
            throw ContentInformationError(.trailingBytes, field: "end of blob", offset: cursor.offset, reason: "\(cursor.remaining) bytes follow the last block list")
        }
        try Self.validateRange(offsetInFirstSegment: offsetInFirstSegment, readBytesInLastSegment: readBytesInLastSegment, segments: segments)
        self.init(hashAlgorithm: algorithm, offsetInFirstSegment: offsetInFirstSegment, readBytesInLastSegment: readBytesInLastSegment, segments: segments)
    }

    private static func validateRange(offsetInFirstSegment: UInt32, readBytesInLastSegment: UInt32, segments: [Segment]) throws(ContentInformationError) {
        guard let first = segments.first, let last = segments.last else {
            guard offsetInFirstSegment == 0, readBytesInLastSegment == 0 else {
                throw ContentInformationError(.invalidValue, field: "dwOffsetInFirstSegment", offset: 6, reason: "a blob with no segments describes no range")
            }
            return
        }
        guard offsetInFirstSegment < first.length else {
            throw ContentInformationError(.invalidValue, field: "dwOffsetInFirstSegment", offset: 6, reason: "\(offsetInFirstSegment) is past the first segment's \(first.length) bytes")
        }
        let available = segments.count == 1 ? first.length - offsetInFirstSegment : last.length
        guard readBytesInLastSegment <= available else {
            throw ContentInformationError(.invalidValue, field: "dwReadBytesInLastSegment", offset: 10, reason: "\(readBytesInLastSegment) is more than the \(available) bytes the last segment offers")
        }
    }

    /// The blob's bytes.
    public func encoded() -> [UInt8] {
        let digestSize = hashAlgorithm.digestSize
        let blockBytes = segments.reduce(0) { $0 + 4 + $1.blockHashes.count * digestSize }
        var sink = ByteSink(capacity: 18 + segments.count * (16 + 2 * digestSize) + blockBytes)
        sink.append(littleEndian: Self.versionWord)
        sink.append(littleEndian: hashAlgorithm.version1Code ?? 0)
        sink.append(littleEndian: offsetInFirstSegment)
        sink.append(littleEndian: readBytesInLastSegment)
        sink.append(littleEndian: UInt32(segments.count))
        for segment in segments {
            sink.append(littleEndian: segment.offsetInContent)
            sink.append(littleEndian: segment.length)
            sink.append(littleEndian: segment.blockSize)
            sink.append(segment.hashOfData)
            sink.append(segment.segmentSecret)
        }
        for segment in segments {
            sink.append(littleEndian: UInt32(segment.blockHashes.count))
            segment.blockHashes.forEach { sink.append($0) }
        }
        return sink.bytes
    }
}
