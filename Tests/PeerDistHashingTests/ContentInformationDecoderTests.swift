import Testing
@testable import PeerDistHashing

/// The decoder trusts no length: malformed input throws an error naming the field and offset.
/// A valid blob as a test argument, named rather than dumped byte by byte.
struct ValidBlob: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    var testDescription: String { "\(name) (\(bytes.count) bytes)" }
}

@Suite struct ContentInformationDecoderTests {
    static var validBlobs: [ValidBlob] {
        let vectors = Vectors.shared
        var blobs = [
            ValidBlob(name: "IIS v1", bytes: Fixtures.bytes(hex: vectors.ipxe_iis85_png.v1.content_information_hex)),
            ValidBlob(name: "IIS v2", bytes: Fixtures.bytes(hex: vectors.ipxe_iis85_png.v2.content_information_hex)),
            ValidBlob(name: "synthetic v1", bytes: Fixtures.bytes(hex: vectors.synthetic.v1_single_segment_128000.content_information_hex)),
        ]
        // Multi-segment blobs of both versions, and empty content.
        let content = TestContent.random(count: 3 * 1024 * 1024 / 2, seed: 7)
        for version in ContentInformationVersion.allCases {
            for bytes in [content, []] {
                let hasher = StreamingContentHasher(version: version)
                hasher.update(bytes)
                let blob = ContentInformation(hashed: hasher.finalize(), secret: ServerSecret(passphrase: "x")).encoded()
                blobs.append(ValidBlob(name: "v\(version) of \(bytes.count) bytes", bytes: blob))
            }
        }
        var twoSegments = ContentInformationV1(segments: (0..<2).map { index in
            ContentInformationV1.Segment(
                offsetInContent: UInt64(index * ContentInformationV1.segmentSize), length: index == 0 ? UInt32(ContentInformationV1.segmentSize) : 1,
                hashOfData: HashValue([UInt8](repeating: UInt8(index), count: 32)), segmentSecret: HashValue([UInt8](repeating: 9, count: 32)),
                blockHashes: [HashValue([UInt8](repeating: 3, count: 32))])
        })
        twoSegments.offsetInFirstSegment = 100
        twoSegments.readBytesInLastSegment = 1
        blobs.append(ValidBlob(name: "v1 partial range over two segments", bytes: twoSegments.encoded()))
        return blobs
    }

    @Test(arguments: validBlobs)
    func decodeThenEncodeIsByteIdentical(valid: ValidBlob) throws {
        let blob = valid.bytes
        #expect(try ContentInformation(decoding: blob).encoded() == blob)
    }

    @Test(arguments: validBlobs)
    func everyTruncationThrows(valid: ValidBlob) {
        let blob = valid.bytes
        for length in 0..<blob.count {
            #expect(throws: ContentInformationError.self, "truncated to \(length) of \(blob.count) bytes") {
                try ContentInformation(decoding: Array(blob.prefix(length)))
            }
        }
    }

    @Test(arguments: validBlobs)
    func trailingBytesThrow(valid: ValidBlob) throws {
        let blob = valid.bytes
        let error = try #require(throws: ContentInformationError.self) { try ContentInformation(decoding: blob + [0]) }
        // A version 2 blob reads the extra byte as the start of another chunk.
        #expect(error.code == .trailingBytes || error.code == .truncated)
        #expect(error.offset >= blob.count)
    }

    private func error(patching offset: Int, of blob: [UInt8], with bytes: [UInt8]) throws -> ContentInformationError {
        var patched = blob
        patched.replaceSubrange(offset..<offset + bytes.count, with: bytes)
        return try #require(throws: ContentInformationError.self) { try ContentInformation(decoding: patched) }
    }

    @Test func namesTheFieldAndOffset() throws {
        let v1 = Fixtures.bytes(hex: Vectors.shared.ipxe_iis85_png.v1.content_information_hex)
        let v2 = Fixtures.bytes(hex: Vectors.shared.ipxe_iis85_png.v2.content_information_hex)

        let version = try error(patching: 0, of: v1, with: [0x00, 0x03])
        #expect(version.code == .unsupportedVersion && version.offset == 0)

        let algorithm = try error(patching: 2, of: v1, with: [0x0F, 0x80])
        #expect(algorithm.code == .unsupportedHashAlgorithm && algorithm.field == "dwHashAlgo" && algorithm.offset == 2)

        let hugeCount = try error(patching: 14, of: v1, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(hugeCount.code == .truncated && hugeCount.field == "cSegments" && hugeCount.offset == 14)

        let blockSize = try error(patching: 30, of: v1, with: [0x00, 0x00, 0x02, 0x00])
        #expect(blockSize.field == "SegmentDescription[0].cbBlockSize" && blockSize.offset == 30)

        let segmentLength = try error(patching: 26, of: v1, with: [0x00, 0x00, 0x00, 0x00])
        #expect(segmentLength.field == "SegmentDescription[0].cbSegment" && segmentLength.offset == 26)

        let blockCount = try error(patching: 98, of: v1, with: [0x03, 0x00, 0x00, 0x00])
        #expect(blockCount.field == "SegmentContentBlocks[0].cBlocks" && blockCount.offset == 98)

        let hugeBlockCount = try error(patching: 98, of: v1, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(hugeBlockCount.code == .invalidValue && hugeBlockCount.offset == 98)

        let rangeOffset = try error(patching: 6, of: v1, with: [0xFF, 0xFF, 0xFF, 0x00])
        #expect(rangeOffset.field == "dwOffsetInFirstSegment")

        let v2Algorithm = try error(patching: 2, of: v2, with: [0x01])
        #expect(v2Algorithm.code == .unsupportedHashAlgorithm && v2Algorithm.offset == 2)

        let chunkType = try error(patching: 31, of: v2, with: [0x01])
        #expect(chunkType.field == "ChunkDescription[0].bChunkType" && chunkType.offset == 31)

        let chunkLength = try error(patching: 32, of: v2, with: [0x00, 0x00, 0x00, 0x45])
        #expect(chunkLength.field == "ChunkDescription[0].dwChunkDataLength" && chunkLength.offset == 32)

        let hugeChunk = try error(patching: 32, of: v2, with: [0xFF, 0xFF, 0xFF, 0xCC])
        #expect(hugeChunk.code == .truncated && hugeChunk.offset == 36)

        let oversizedSegment = try error(patching: 36, of: v2, with: [0x00, 0x02, 0x00, 0x01])
        #expect(oversizedSegment.field == "ChunkDescription[0].SegmentDescription[0].cbSegment" && oversizedSegment.offset == 36)

        let rangeLength = try error(patching: 23, of: v2, with: [0, 0, 0, 0, 0, 0x10, 0, 0])
        #expect(rangeLength.field == "ullLengthOfRange")
    }

    @Test func rejectsGarbageWithoutCrashing() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var blob = (0..<Int.random(in: 0..<400, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if blob.count >= 2, Bool.random(using: &generator) {
                blob[0] = 0; blob[1] = Bool.random(using: &generator) ? 1 : 2
            }
            _ = try? ContentInformation(decoding: blob)
        }
    }
}
