import Testing
@testable import PeerDistHashing

/// Blobs whose fields are in range one by one but whose derived quantities (segment indexes,
/// offsets, range ends) would not fit their types: each is refused with an error naming the field,
/// and the largest that still fit decode and yield everything a fetcher derives without a trap.
@Suite struct ContentInformationBoundsTests {
    private static let hash = HashValue([UInt8](repeating: 0xA5, count: 32))
    private static let segmentSize = UInt32(ContentInformationV1.segmentSize)

    private static func v2(
        start: UInt64 = 0, index: UInt64 = 0, offset: UInt32 = 0, length: UInt64 = 0, segments: [UInt32] = [1000]
    ) -> ContentInformationV2 {
        ContentInformationV2(
            startInContent: start, indexOfFirstSegment: index, offsetInFirstSegment: offset, lengthOfRange: length,
            chunks: [ContentInformationV2.Chunk(segments: segments.map { .init(length: $0, hashOfData: hash, segmentSecret: hash) })])
    }

    /// Contiguous version 1 segments from `firstOffset`, each but the last 32 MiB.
    private static func v1(firstOffset: UInt64, lastLength: UInt32 = segmentSize, count: Int = 1) -> ContentInformationV1 {
        ContentInformationV1(segments: (0..<count).map { position in
            ContentInformationV1.Segment(
                offsetInContent: firstOffset + UInt64(position) * UInt64(segmentSize),
                length: position == count - 1 ? lastLength : segmentSize,
                hashOfData: hash, segmentSecret: hash, blockHashes: [hash])
        })
    }

    private func refusal(_ blob: [UInt8]) throws -> ContentInformationError {
        try #require(throws: ContentInformationError.self) { try ContentInformation(decoding: blob) }
    }

    /// Decodes `blob` and derives from it what `peerdist info` and a fetcher do.
    @discardableResult
    private func derive(_ blob: [UInt8]) throws -> [SegmentDescription] {
        let information = try ContentInformation(decoding: blob)
        let segments = information.segments
        _ = information.range
        for segment in segments {
            #expect(segment.blockRange(0).lowerBound == segment.offset)
            #expect(segment.blockRange(segment.blockCount - 1).upperBound == segment.offset + UInt64(segment.length))
        }
        _ = ContentID(describing: information)
        #expect(information.encoded() == blob)
        return segments
    }

    // MARK: version 2

    /// Found by mutating the IIS version 2 fixture: ullIndexOfFirstSegment 0xffff000000000000
    /// trapped converting to Int in `segments(prefix:)`.
    @Test func fuzzedIndexOfFirstSegmentIsRefused() throws {
        let blob = Fixtures.bytes(hex: """
            000204000000000000ffffffff0000000000000000000000000000000000000000000088000099dee0d0c358e2684b62330d32b5f1978724a0d0a52bdc5e781fae71ff57a8be3dd458037ed404116bb616d9b14116088520c47cdc50abcea3fae188a98ea22df3c00000eba03381d0d0cb74f4b613d8210f37f002a06f3910586096a130d34398c08e66d7bcb8b6eb7783e4f807647b63f146b52f4ac89ccc7abf5fa11acafc2acf5028586c
            """)
        let error = try refusal(blob)
        #expect(error.code == .invalidValue && error.field == "ullIndexOfFirstSegment" && error.offset == 11)
        #expect(error.description.hasPrefix("malformed Content Information: ullIndexOfFirstSegment at byte 11: "))
    }

    @Test(arguments: [UInt64.max, UInt64(Int.max) + 1, UInt64(Int.max) - 1])
    func indexOfFirstSegmentPastIntIsRefused(index: UInt64) throws {
        // Two segments: index + 2, the end of the listed indexes, is past Int.max for each of these.
        let error = try refusal(Self.v2(index: index, segments: [1000, 1000]).encoded())
        #expect(error.code == .invalidValue && error.field == "ullIndexOfFirstSegment" && error.offset == 11)
    }

    @Test func largestIndexOfFirstSegmentDecodes() throws {
        // The listed indexes form a Range<Int>, so the one past the last is an Int too.
        let segments = try derive(Self.v2(index: UInt64(Int.max) - 2, segments: [1000, 1000]).encoded())
        #expect(segments.map(\.index) == [Int.max - 2, Int.max - 1])
        // With nothing listed, any index that is an Int will do.
        try derive(Self.v2(index: UInt64(Int.max), segments: []).encoded())
        #expect(try refusal(Self.v2(index: UInt64(Int.max) + 1, segments: []).encoded()).field == "ullIndexOfFirstSegment")
    }

    @Test func segmentsRunningPastUInt64AreRefused() throws {
        let first = try refusal(Self.v2(start: .max - 999, segments: [1000]).encoded())
        #expect(first.field == "ChunkDescription[0].SegmentDescription[0].cbSegment" && first.offset == 36)

        let second = try refusal(Self.v2(start: .max - 2999, segments: [1000, 1000, 1000]).encoded())
        #expect(second.field == "ChunkDescription[0].SegmentDescription[2].cbSegment" && second.offset == 36 + 2 * 68)

        // Across chunks too: the running end is the blob's, not the chunk's.
        var twoChunks = Self.v2(start: .max - 1000, segments: [1000])
        twoChunks.chunks.append(twoChunks.chunks[0])
        let later = try refusal(twoChunks.encoded())
        #expect(later.field == "ChunkDescription[1].SegmentDescription[0].cbSegment" && later.offset == 31 + 5 + 68 + 5)
    }

    @Test func segmentsEndingAtUInt64MaxDecode() throws {
        let blob = Self.v2(start: .max - 2000, offset: 999, length: 1001, segments: [1000, 1000]).encoded()
        let segments = try derive(blob)
        #expect(segments.map(\.offset) == [.max - 2000, .max - 1000])
        let information = try ContentInformation(decoding: blob)
        #expect(information.range == (.max - 1001)..<UInt64.max)
        #expect(ContentID(describing: information) == nil)
        // The same with the range left open: it runs to the end of the listed segments.
        let open = try ContentInformation(decoding: Self.v2(start: .max - 2000, offset: 999, segments: [1000, 1000]).encoded())
        #expect(open.range == (.max - 1001)..<UInt64.max)
    }

    @Test(arguments: [UInt64.max, UInt64.max - 999, 1001])
    func lengthOfRangePastTheSegmentsIsRefused(length: UInt64) throws {
        let error = try refusal(Self.v2(start: .max - 1000, offset: 0, length: length, segments: [1000]).encoded())
        #expect(error.code == .invalidValue && error.field == "ullLengthOfRange" && error.offset == 23)
    }

    @Test(arguments: [UInt32.max, 1000])
    func offsetInFirstSegmentPastTheSegmentIsRefused(offset: UInt32) throws {
        let error = try refusal(Self.v2(start: .max - 1000, offset: offset, segments: [1000]).encoded())
        #expect(error.code == .invalidValue && error.field == "dwOffsetInFirstSegment" && error.offset == 19)
    }

    @Test func hugeChunkDataLengthsAreRefused() throws {
        let blob = Self.v2().encoded()
        for (length, code) in [(UInt32.max, ContentInformationError.Code.invalidValue), (0xFFFF_FFCC, .truncated), (0x8000_0008, .truncated)] {
            var patched = blob
            withUnsafeBytes(of: length.bigEndian) { patched.replaceSubrange(32..<36, with: $0) }
            let error = try refusal(patched)
            #expect(error.code == code && error.field.hasPrefix("ChunkDescription[0]."), "dwChunkDataLength \(length)")
        }
    }

    // MARK: version 1

    @Test func v1SegmentEndingPastUInt64IsRefused() throws {
        // A multiple of 32 MiB whose segment would end at 2^64.
        let error = try refusal(Self.v1(firstOffset: .max - UInt64(Self.segmentSize) + 1).encoded())
        #expect(error.code == .invalidValue && error.field == "SegmentDescription[0].ullOffsetInContent" && error.offset == 18)

        let second = try refusal(Self.v1(firstOffset: .max - 2 * UInt64(Self.segmentSize) + 1, lastLength: 1, count: 2).encoded())
        #expect(second.field == "SegmentDescription[1].ullOffsetInContent" && second.offset == 18 + 80)
    }

    @Test func v1SegmentsEndingNearUInt64MaxDecode() throws {
        let firstOffset = UInt64.max - 3 * UInt64(Self.segmentSize) + 1
        var information = Self.v1(firstOffset: firstOffset, count: 2)
        information.offsetInFirstSegment = Self.segmentSize - 1
        information.readBytesInLastSegment = Self.segmentSize
        let segments = try derive(information.encoded())
        #expect(segments.map(\.offset) == [firstOffset, firstOffset + UInt64(Self.segmentSize)])
        let decoded = try ContentInformation(decoding: information.encoded())
        #expect(decoded.range == (firstOffset + UInt64(Self.segmentSize) - 1)..<(UInt64.max - UInt64(Self.segmentSize) + 1))
        #expect(ContentID(describing: decoded) == nil)
    }

    @Test func v1HugeCountsAreRefused() throws {
        let blob = Self.v1(firstOffset: 0, lastLength: 100_000).encoded()
        for count in [UInt32.max, 0x8000_0000, 2] {
            var patched = blob
            withUnsafeBytes(of: count.littleEndian) { patched.replaceSubrange(14..<18, with: $0) }
            let error = try refusal(patched)
            #expect(error.code == .truncated && error.field == "cSegments" && error.offset == 14, "cSegments \(count)")
        }
        for count in [UInt32.max, 0x8000_0000, 3, 0] {
            var patched = blob
            withUnsafeBytes(of: count.littleEndian) { patched.replaceSubrange(98..<102, with: $0) }
            let error = try refusal(patched)
            #expect(error.code == .invalidValue && error.field == "SegmentContentBlocks[0].cBlocks" && error.offset == 98, "cBlocks \(count)")
        }
    }

    @Test func v1RangeFieldsPastTheSegmentsAreRefused() throws {
        var offset = Self.v1(firstOffset: .max - 2 * UInt64(Self.segmentSize) + 1, lastLength: 1000)
        offset.offsetInFirstSegment = .max
        #expect(try refusal(offset.encoded()).field == "dwOffsetInFirstSegment")

        var length = Self.v1(firstOffset: .max - 2 * UInt64(Self.segmentSize) + 1, lastLength: 1000)
        length.offsetInFirstSegment = 1
        length.readBytesInLastSegment = .max
        let error = try refusal(length.encoded())
        #expect(error.field == "dwReadBytesInLastSegment" && error.offset == 10)
    }

    // MARK: every field at its extremes

    /// Writes values at the edges of every integer width over each header and first-segment
    /// field of each valid blob: whatever decodes must derive without a trap, and whatever does
    /// not must be refused with a typed error.
    @Test(arguments: ContentInformationDecoderTests.validBlobs)
    func extremeValuesInEveryFieldNeverTrap(valid: ValidBlob) throws {
        let patterns: [[UInt8]] = [
            [0xFF], [0x80], [0x7F], [0x00],
            [0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0], [0, 0, 0, 0x80],
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            [0x80, 0, 0, 0, 0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
        ]
        let blob = valid.bytes
        for offset in 0..<min(blob.count, 120) {
            for pattern in patterns where offset + pattern.count <= blob.count {
                var patched = blob
                patched.replaceSubrange(offset..<offset + pattern.count, with: pattern)
                do {
                    try derive(patched)
                } catch let error as ContentInformationError {
                    #expect(error.offset >= 0 && error.offset <= patched.count && !error.field.isEmpty)
                }
            }
        }
    }
}
