import Testing
@testable import PeerDistHashing

/// Checks against `Tests/Reference/pccrc_reference.py`, which computes the same formats with
/// Python's hashlib and hmac from the specification, sharing no code with the Swift encoder.
@Suite(.serialized) struct ReferenceImplementationTests {
    let secretHex = "2a3d73eb435e9f2b8a344267e7467a3c7385c6e055e2b4d30dfec7c38b0ed72c"

    @Test func multiSegmentVersion1MatchesReference() throws {
        // Three segments: two whole, the last one partial and ending inside a block.
        let content = TestContent.random(count: 2 * ContentInformationV1.segmentSize + 1_234_567, seed: 99)
        let path = try TestContent.file(content)
        defer { TestContent.remove(path) }
        let secret = try #require(ServerSecret(hex: secretHex))
        let hashed = try FileHasher(version: .v1).hash(path: path)
        #expect(hashed.segments.count == 3)
        let ours = ContentInformation(hashed: hashed, secret: secret).encoded()
        let reference = try ReferenceImplementation.run("ci-v1", path, secretHex)
        #expect(ours.count == reference.count)
        #expect(ours == reference)
    }

    @Test func version2AndItsChunkerMatchReference() throws {
        let content = TestContent.random(count: 3 * 1024 * 1024 + 17, seed: 98)
        let path = try TestContent.file(content)
        defer { TestContent.remove(path) }
        let secret = try #require(ServerSecret(hex: secretHex))
        let ours = ContentInformation(hashed: try FileHasher(version: .v2).hash(path: path), secret: secret).encoded()
        #expect(ours == (try ReferenceImplementation.run("ci-v2", path, secretHex)))
    }

    @Test func keyExportFileMatchesReference() throws {
        let secret = try #require(ServerSecret(hex: secretHex))
        let reference = try ReferenceImplementation.run("keyfile", secretHex, "correct horse")
        #expect(KeyExportFile.export(secret, passphrase: "correct horse") == reference)
        #expect(try KeyExportFile.import(reference, passphrase: "correct horse") == secret)
    }
}
