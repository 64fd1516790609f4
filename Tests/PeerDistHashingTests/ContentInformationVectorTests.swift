import Testing
@testable import PeerDistHashing

/// Content Information captured from a real IIS 8.5 server (via iPXE's test suite) and computed
/// from synthetic input; see `Fixtures/pccrc-vectors.json`.
@Suite struct ContentInformationVectorTests {
    let vectors = Vectors.shared

    @Test func segmentIDConstantIsUTF16LEWithTerminator() {
        #expect(SegmentKeys.segmentIDConstant == Fixtures.bytes(hex: vectors.segment_id_magic_hex))
        #expect(SegmentKeys.segmentIDConstant.count == 30)
    }

    @Test func serverSecretDerivesBothHashedKeys() throws {
        let secret = try #require(ServerSecret(hex: vectors.ipxe_iis85_png.server_passphrase_hex))
        #expect(Hex.encode(secret.hashedKey(for: .sha256)) == vectors.ipxe_iis85_png.server_secret_v1_hex)
        #expect(Hex.encode(secret.hashedKey(for: .sha512Truncated)) == vectors.ipxe_iis85_png.server_secret_v2_hex)
    }

    @Test func decodesIISVersion1ByteExactly() throws {
        let iis = vectors.ipxe_iis85_png
        let blob = Fixtures.bytes(hex: iis.v1.content_information_hex)
        let information = try ContentInformation(decoding: blob)
        guard case .version1(let v1) = information else {
            Issue.record("expected version 1")
            return
        }
        #expect(v1.hashAlgorithm == .sha256)
        #expect(v1.offsetInFirstSegment == 0)
        #expect(v1.readBytesInLastSegment == 0)
        #expect(information.range == 0..<99_710)
        #expect(v1.segments.count == 1)
        let segment = try #require(information.segments.first)
        #expect(segment.length == 99_710)
        #expect(segment.blockCount == 2)
        #expect(segment.blockRange(1) == 65_536..<99_710)
        #expect(segment.hashOfData.hex == iis.v1.segments[0].hod)
        #expect(segment.segmentSecret.hex == iis.v1.segments[0].kp_segment_secret)
        #expect(segment.segmentID.hex == iis.v1.segments[0].hohodk_segment_id)
        // HoD is the hash of the block hashes.
        #expect(HashAlgorithm.sha256.digest(v1.segments[0].blockHashes.flatMap(\.bytes)) == segment.hashOfData)
        #expect(information.encoded() == blob)
    }

    @Test func derivesIISVersion1SegmentSecretFromServerPassphrase() throws {
        let iis = vectors.ipxe_iis85_png
        let secret = try #require(ServerSecret(hex: iis.server_passphrase_hex))
        let hod = try #require(HashValue(hex: iis.v1.segments[0].hod))
        let kp = SegmentKeys.segmentSecret(hashOfData: hod, hashedServerSecret: secret.hashedKey(for: .sha256), algorithm: .sha256)
        #expect(kp.hex == iis.v1.segments[0].kp_segment_secret)
        #expect(SegmentKeys.segmentID(hashOfData: hod, segmentSecret: kp, algorithm: .sha256).hex == iis.v1.segments[0].hohodk_segment_id)
    }

    @Test func decodesIISVersion2ByteExactly() throws {
        let iis = vectors.ipxe_iis85_png
        let blob = Fixtures.bytes(hex: iis.v2.content_information_hex)
        let information = try ContentInformation(decoding: blob)
        #expect(information.version == 2)
        #expect(information.hashAlgorithm == .sha512Truncated)
        #expect(information.range == 0..<99_710)
        let segments = information.segments
        #expect(segments.count == 2)
        #expect(segments.map(\.offset) == [0, 39_390])
        let secret = try #require(ServerSecret(hex: iis.server_passphrase_hex))
        for (segment, expected) in zip(segments, iis.v2.segments) {
            #expect(segment.length == expected.cbSegment)
            #expect(segment.blockCount == 1)
            #expect(segment.blockHashes == [segment.hashOfData])
            #expect(segment.hashOfData.hex == expected.hod)
            #expect(segment.segmentSecret.hex == expected.kp_segment_secret)
            #expect(segment.segmentID.hex == expected.hohodk_segment_id)
            let kp = SegmentKeys.segmentSecret(
                hashOfData: segment.hashOfData, hashedServerSecret: secret.hashedKey(for: .sha512Truncated), algorithm: .sha512Truncated)
            #expect(kp == segment.segmentSecret)
        }
        #expect(information.encoded() == blob)
    }

    @Test func generatesSyntheticVersion1ByteExactly() throws {
        let synthetic = vectors.synthetic
        let content = TestContent.modulo251(count: synthetic.v1_single_segment_128000.content_length)
        // The key bytes are the ASCII (so also UTF-8) text "no more secrets".
        #expect(synthetic.server_secret_key_bytes.hasSuffix("= 6e6f206d6f72652073656372657473"))
        let secret = ServerSecret(passphrase: "no more secrets")
        #expect(Hex.encode(secret.keyBytes) == "6e6f206d6f72652073656372657473")
        #expect(Hex.encode(secret.hashedKey(for: .sha256)) == synthetic.v1_single_segment_128000.server_secret_v1)

        let streamed = StreamingContentHasher(version: .v1)
        streamed.update(content)
        let blob = ContentInformation(hashed: streamed.finalize(), secret: secret).encoded()
        #expect(Hex.encode(blob) == synthetic.v1_single_segment_128000.content_information_hex)

        let path = try TestContent.file(content)
        defer { TestContent.remove(path) }
        for threads in [1, 2] {
            let hashed = try FileHasher(version: .v1, threads: threads).hash(path: path)
            #expect(Hex.encode(ContentInformation(hashed: hashed, secret: secret).encoded()) == synthetic.v1_single_segment_128000.content_information_hex)
        }
    }
}
