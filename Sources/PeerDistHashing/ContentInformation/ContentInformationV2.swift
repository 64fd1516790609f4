/// Content Information version 2.0 (MS-PCCRC §2.4): content-defined segments of at most 128 KiB,
/// hashed with truncated SHA-512, every integer big-endian.
///
/// ```
/// header  bMinorVersion(1) bMajorVersion(1) bHashAlgo(1) ullStartInContent(8) ullIndexOfFirstSegment(8)
///         dwOffsetInFirstSegment(4) ullLengthOfRange(8)
/// chunks  until the end: bChunkType(1)=0 dwChunkDataLength(4) { cbSegment(4) HoD(32) Kp(32) }…
/// ```
/// A version 2 segment travels as one block, so its hash of data is also its only block hash.
public struct ContentInformationV2: Hashable, Sendable {
    public static let maximumSegmentSize = 128 * 1024
    static let headerSize = 31
    static let segmentDescriptionSize = 4 + 32 + 32

    public struct Segment: Hashable, Sendable {
        public var length: UInt32
        public var hashOfData: HashValue
        public var segmentSecret: HashValue

        public init(length: UInt32, hashOfData: HashValue, segmentSecret: HashValue) {
            self.length = length
            self.hashOfData = hashOfData
            self.segmentSecret = segmentSecret
        }
    }

    /// A run of segment descriptions; kept as decoded so that re-encoding reproduces the blob.
    public struct Chunk: Hashable, Sendable {
        public var segments: [Segment]

        public init(segments: [Segment]) {
            self.segments = segments
        }
    }

    /// A decoded blob keeps `startInContent` plus every listed segment's length within `UInt64`.
    public var startInContent: UInt64
    /// A decoded blob keeps this plus the number of listed segments within `Int.max`, so the
    /// listed segments' indexes are a `Range<Int>`.
    public var indexOfFirstSegment: UInt64
    public var offsetInFirstSegment: UInt32
    /// Length of the range; 0 means to the end of the content.
    public var lengthOfRange: UInt64
    public var chunks: [Chunk]

    public init(startInContent: UInt64 = 0, indexOfFirstSegment: UInt64 = 0, offsetInFirstSegment: UInt32 = 0, lengthOfRange: UInt64 = 0, chunks: [Chunk]) {
        self.startInContent = startInContent
        self.indexOfFirstSegment = indexOfFirstSegment
        self.offsetInFirstSegment = offsetInFirstSegment
        self.lengthOfRange = lengthOfRange
        self.chunks = chunks
    }

    /// All segments in content order.
    public var segments: [Segment] { chunks.flatMap(\.segments) }

    /// Bytes described by the segments listed.
    public var listedLength: UInt64 { chunks.reduce(0) { $0 + $1.segments.reduce(0) { $0 + UInt64($1.length) } } }

    /// The content bytes the blob describes (spec example 3.7: the length counts from the offset in the first segment).
    public var range: Range<UInt64> {
        let start = startInContent + UInt64(offsetInFirstSegment)
        let end = lengthOfRange == 0 ? startInContent + listedLength : start + lengthOfRange
        return start..<end
    }
}

extension ContentInformationV2 {
    /// Decodes a version 2 blob; every length is checked before it is used.
    public init(decoding bytes: [UInt8]) throws(ContentInformationError) {
        var cursor = ByteCursor(bytes)
        let minor = try cursor.readBigEndian(UInt8.self, field: "bMinorVersion")
        let major = try cursor.readBigEndian(UInt8.self, field: "bMajorVersion")
        guard minor == 0, major == 2 else {
            throw ContentInformationError(.unsupportedVersion, field: "bMajorVersion", offset: 0, reason: "expected 2.0, found \(major).\(minor)")
        }
        let algorithm = try cursor.readBigEndian(UInt8.self, field: "bHashAlgo")
        guard algorithm == HashAlgorithm.version2Code else {
            throw ContentInformationError(.unsupportedHashAlgorithm, field: "bHashAlgo", offset: 2, reason: "0x\(String(algorithm, radix: 16)) is not truncated SHA-512 (0x04)")
        }
        let startInContent = try cursor.readBigEndian(UInt64.self, field: "ullStartInContent")
        let indexOffset = cursor.offset
        let indexOfFirstSegment = try cursor.readBigEndian(UInt64.self, field: "ullIndexOfFirstSegment")
        let offsetInFirstSegment = try cursor.readBigEndian(UInt32.self, field: "dwOffsetInFirstSegment")
        let lengthOfRange = try cursor.readBigEndian(UInt64.self, field: "ullLengthOfRange")

        // The specification requires at least one chunk; an empty blob after the header is a truncation.
        guard !cursor.isAtEnd else {
            throw ContentInformationError(.truncated, field: "ChunkDescription[0]", offset: cursor.offset, reason: "a blob lists at least one chunk")
        }
        var chunks: [Chunk] = []
        var listedCount = 0
        // Where the listed segments end in the content; checked as it grows, so that every offset
        // and range derived from the blob fits in a UInt64.
        var contentEnd = startInContent
        while !cursor.isAtEnd {
            let field = "ChunkDescription[\(chunks.count)]"
            let typeOffset = cursor.offset
            let type = try cursor.readBigEndian(UInt8.self, field: "\(field).bChunkType")
            guard type == 0 else {
                throw ContentInformationError(.invalidValue, field: "\(field).bChunkType", offset: typeOffset, reason: "chunk type \(type) is not 0 (segment descriptions)")
            }
            let lengthOffset = cursor.offset
            let dataLength = try cursor.readBigEndian(UInt32.self, field: "\(field).dwChunkDataLength")
            guard dataLength.isMultiple(of: UInt32(Self.segmentDescriptionSize)) else {
                throw ContentInformationError(
                    .invalidValue, field: "\(field).dwChunkDataLength", offset: lengthOffset,
                    reason: "\(dataLength) is not a multiple of the 68-byte segment description")
            }
            guard dataLength <= cursor.remaining else {
                throw ContentInformationError(
                    .truncated, field: "\(field).chunkData", offset: cursor.offset,
                    reason: "needs \(dataLength) bytes, only \(cursor.remaining) remain")
            }
            // At most the bytes that remain, so an Int on any platform.
            let segmentCount = Int(dataLength) / Self.segmentDescriptionSize
            var segments: [Segment] = []
            segments.reserveCapacity(segmentCount)
            for index in 0..<segmentCount {
                let segmentField = "\(field).SegmentDescription[\(index)]"
                let segmentOffset = cursor.offset
                let length = try cursor.readBigEndian(UInt32.self, field: "\(segmentField).cbSegment")
                guard length > 0, length <= UInt32(Self.maximumSegmentSize) else {
                    throw ContentInformationError(.invalidValue, field: "\(segmentField).cbSegment", offset: segmentOffset, reason: "\(length) is not in 1...131072")
                }
                let (end, overflow) = contentEnd.addingReportingOverflow(UInt64(length))
                guard !overflow else {
                    throw ContentInformationError(.invalidValue, field: "\(segmentField).cbSegment", offset: segmentOffset, reason: "the segments run past any content length")
                }
                contentEnd = end
                segments.append(Segment(
                    length: length,
                    hashOfData: try cursor.readHash(32, field: "\(segmentField).SegmentHashOfData"),
                    segmentSecret: try cursor.readHash(32, field: "\(segmentField).SegmentSecret")))
            }
            chunks.append(Chunk(segments: segments))
            listedCount += segmentCount
        }
        // Segment indexes are Ints: the listed ones, indexOfFirstSegment..<indexOfFirstSegment + listedCount, must be a Range<Int>.
        guard indexOfFirstSegment <= UInt64(Int.max - listedCount) else {
            throw ContentInformationError(
                .invalidValue, field: "ullIndexOfFirstSegment", offset: indexOffset,
                reason: "\(indexOfFirstSegment) plus the \(listedCount) segments listed is past the largest segment index, \(Int.max)")
        }

        self.init(startInContent: startInContent, indexOfFirstSegment: indexOfFirstSegment, offsetInFirstSegment: offsetInFirstSegment, lengthOfRange: lengthOfRange, chunks: chunks)
        try validateRange()
    }

    private func validateRange() throws(ContentInformationError) {
        let listed = listedLength
        guard let first = segments.first else {
            guard offsetInFirstSegment == 0, lengthOfRange == 0 else {
                throw ContentInformationError(.invalidValue, field: "dwOffsetInFirstSegment", offset: 19, reason: "a blob with no segments describes no range")
            }
            return
        }
        guard offsetInFirstSegment < first.length else {
            throw ContentInformationError(.invalidValue, field: "dwOffsetInFirstSegment", offset: 19, reason: "\(offsetInFirstSegment) is past the first segment's \(first.length) bytes")
        }
        guard lengthOfRange <= listed - UInt64(offsetInFirstSegment) else {
            throw ContentInformationError(
                .invalidValue, field: "ullLengthOfRange", offset: 23,
                reason: "\(lengthOfRange) bytes from offset \(offsetInFirstSegment) run past the \(listed) bytes the segments describe")
        }
    }

    /// The blob's bytes.
    public func encoded() -> [UInt8] {
        let segmentCount = chunks.reduce(0) { $0 + $1.segments.count }
        var sink = ByteSink(capacity: Self.headerSize + chunks.count * 5 + segmentCount * Self.segmentDescriptionSize)
        sink.append(bigEndian: UInt8(0))
        sink.append(bigEndian: UInt8(2))
        sink.append(bigEndian: HashAlgorithm.version2Code)
        sink.append(bigEndian: startInContent)
        sink.append(bigEndian: indexOfFirstSegment)
        sink.append(bigEndian: offsetInFirstSegment)
        sink.append(bigEndian: lengthOfRange)
        for chunk in chunks {
            sink.append(bigEndian: UInt8(0))
            sink.append(bigEndian: UInt32(chunk.segments.count * Self.segmentDescriptionSize))
            for segment in chunk.segments {
                sink.append(bigEndian: segment.length)
                sink.append(segment.hashOfData)
                sink.append(segment.segmentSecret)
            }
        }
        return sink.bytes
    }
}
