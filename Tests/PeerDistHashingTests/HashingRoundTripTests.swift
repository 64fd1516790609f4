import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import PeerDistHashing

/// Every way of hashing gives the same result, and Content Information survives encoding.
@Suite(.serialized) struct HashingRoundTripTests {
    static let mebibyte = 1024 * 1024
    static let sizes = [0, 1, 65_535, 65_536, 65_537, 32 * mebibyte - 1, 32 * mebibyte, 32 * mebibyte + 1, 100 * mebibyte]

    @Test(arguments: sizes)
    func allHashersAgreeAndBlobsRoundTrip(size: Int) throws {
        let content = TestContent.random(count: size, seed: UInt64(size))
        let path = try TestContent.file(content)
        defer { TestContent.remove(path) }
        let secret = ServerSecret(passphrase: "round trip")

        for version in ContentInformationVersion.allCases {
            // Stream in awkward piece sizes that straddle block and segment boundaries.
            let streaming = StreamingContentHasher(version: version)
            content.withUnsafeBytes { bytes in
                var offset = 0
                var piece = 1
                while offset < bytes.count {
                    let end = min(bytes.count, offset + piece)
                    streaming.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                    offset = end
                    piece = piece * 7 % 1_000_003 + 1
                }
            }
            let streamed = streaming.finalize()
            #expect(streamed.length == UInt64(size))
            #expect(streamed.segments.reduce(0) { $0 + Int($1.length) } == size)

            for threads in [1, 2, 3] {
                let hashed = try FileHasher(version: version, threads: threads).hash(path: path)
                #expect(hashed == streamed, "version \(version), \(threads) threads")
            }

            let information = ContentInformation(hashed: streamed, secret: secret)
            let blob = information.encoded()
            let decoded = try ContentInformation(decoding: blob)
            #expect(decoded == information)
            #expect(decoded.encoded() == blob)
            #expect(decoded.range == 0..<UInt64(size))
            #expect(decoded.segments.map(\.length) == streamed.segments.map(\.length))
            if version == .v1 {
                let expected = (size + ContentInformationV1.segmentSize - 1) / ContentInformationV1.segmentSize
                #expect(decoded.segments.count == expected)
            }
        }
    }

    /// Version 2 chunks 32 MiB regions in parallel and re-chunks the seams; uniform bytes across a
    /// seam never resynchronise by content, so the seam must be re-chunked all the way through.
    @Test func version2SeamsGiveTheSequentialResult() throws {
        var content = TestContent.random(count: 100 * Self.mebibyte, seed: 77)
        content.replaceSubrange(20 * Self.mebibyte..<50 * Self.mebibyte, with: repeatElement(0, count: 30 * Self.mebibyte))
        content.replaceSubrange(63 * Self.mebibyte + 5..<65 * Self.mebibyte, with: repeatElement(0xAB, count: 2 * Self.mebibyte - 5))
        let path = try TestContent.file(content)
        defer { TestContent.remove(path) }
        let streaming = StreamingContentHasher(version: .v2)
        streaming.update(content)
        let expected = streaming.finalize()
        for threads in [2, 4] {
            #expect(try FileHasher(version: .v2, threads: threads).hash(path: path) == expected)
        }
    }

    @Test func version1BlockHashesAreSHA256OfEachBlock() throws {
        let content = TestContent.random(count: 3 * 65_536 + 5, seed: 3)
        let hasher = StreamingContentHasher(version: .v1)
        hasher.update(content)
        let segment = try #require(hasher.finalize().segments.first)
        #expect(segment.blockHashes.count == 4)
        for (index, hash) in segment.blockHashes.enumerated() {
            let block = Array(content[index * 65_536..<min(content.count, (index + 1) * 65_536)])
            #expect(hash == HashAlgorithm.sha256.digest(block))
        }
    }

    @Test func version2SegmentHashIsTruncatedSHA512() throws {
        let content = TestContent.random(count: 400_000, seed: 4)
        let hasher = StreamingContentHasher(version: .v2)
        hasher.update(content)
        for segment in hasher.finalize().segments {
            let bytes = Array(content[Int(segment.offset)..<Int(segment.offset) + Int(segment.length)])
            #expect(segment.hashOfData == HashAlgorithm.sha512Truncated.digest(bytes))
        }
    }

    @Test func missingAndSpecialFilesGiveClearErrors() throws {
        let missing = try #require(throws: FileHashingError.self) { try FileHasher(version: .v1).hash(path: "/nonexistent/file") }
        #expect(missing.description == "/nonexistent/file: cannot open: No such file or directory")
        let directory = try #require(throws: FileHashingError.self) { try FileHasher(version: .v1).hash(path: "/tmp") }
        #expect(directory.description == "/tmp: not a regular file")
    }

    /// Version 1 hashes from a mapping of the file: pages past the end of a file truncated
    /// meanwhile fault (SIGBUS), which must fail the hash, not end the process.
    @Test(arguments: [1, 2])
    func aFileTruncatedWhileHashedIsAnErrorNotACrash(threads: Int) throws {
        let content = TestContent.random(count: 12 * Self.mebibyte, seed: 12)
        let path = try TestContent.file(content)
        defer { TestContent.remove(path) }
        let file = try ContentFile(path: path)
        #expect(file.size == UInt64(content.count))
        #expect(truncate(path, off_t(Self.mebibyte)) == 0)
        let error = try #require(throws: FileHashingError.self) { try FileHasher(version: .v1, threads: threads).hash(file) }
        #expect(error.description == "\(path): the file shrank while it was being read")
        // The thread that caught the fault hashes on as before.
        let whole = TestContent.random(count: 5 * Self.mebibyte + 3, seed: 13)
        let other = try TestContent.file(whole)
        defer { TestContent.remove(other) }
        let streaming = StreamingContentHasher(version: .v1)
        streaming.update(whole)
        #expect(try FileHasher(version: .v1, threads: threads).hash(path: other) == streaming.finalize())
    }

    @Test func contentIDNamesTheBytesNotTheSecret() throws {
        let content = TestContent.random(count: 200_000, seed: 5)
        let first = StreamingContentHasher(version: .v1)
        first.update(content)
        let second = StreamingContentHasher(version: .v1)
        second.update(content)
        let hashed = first.finalize()
        #expect(ContentID(hashed) == ContentID(second.finalize()))

        var changed = content
        changed[199_999] ^= 1
        let third = StreamingContentHasher(version: .v1)
        third.update(changed)
        #expect(ContentID(hashed) != ContentID(third.finalize()))

        // Content-addressed secrets differ from a server's, so the segment IDs reveal nothing shared.
        let addressed = ContentInformation(hashed: hashed, secret: ContentID(hashed).serverSecret)
        let served = ContentInformation(hashed: hashed, secret: ServerSecret(passphrase: "server"))
        #expect(addressed.segments[0].segmentID != served.segments[0].segmentID)
        #expect(addressed.segments[0].hashOfData == served.segments[0].hashOfData)
    }
}
