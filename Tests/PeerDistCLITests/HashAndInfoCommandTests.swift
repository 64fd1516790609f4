import Foundation
import PeerDistHashing
import Testing

@Suite struct HashAndInfoCommandTests {
    @Test func hashWritesContentInformationThatInfoDecodes() throws {
        let scratch = try ScratchDirectory()
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let file = try scratch.file("content.bin", bytes: content)

        let hashed = try Peerdist.run("hash", file, "--secret-hex", "00112233", "--json")
        #expect(hashed.status == 0, "\(hashed.standardError)")
        let report = try JSONSerialization.jsonObject(with: Data(hashed.standardOutput.utf8)) as? [String: Any]
        #expect(report?["output"] as? String == file + ".ci")
        #expect(report?["length"] as? Int == 200_000)
        #expect(report?["secret"] as? String == "server")

        // The blob on disk is exactly what the library makes.
        let expected = StreamingContentHasher(version: .v1)
        expected.update(content)
        let blob = Array(try Data(contentsOf: URL(fileURLWithPath: file + ".ci")))
        #expect(blob == ContentInformation(hashed: expected.finalize(), secret: ServerSecret(hex: "00112233")!).encoded())

        let info = try Peerdist.run("info", file + ".ci", "--json")
        #expect(info.status == 0)
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(info.standardOutput.utf8)) as? [String: Any])
        #expect(decoded["version"] as? Int == 1)
        #expect(decoded["hash_algorithm"] as? String == "sha256")
        #expect(decoded["range"] as? [Int] == [0, 200_000])
        let segments = try #require(decoded["segments"] as? [[String: Any]])
        #expect(segments.count == 1)
        #expect(segments[0]["block_count"] as? Int == 4)
        #expect(segments[0]["length"] as? Int == 200_000)
        for key in ["hash_of_data", "segment_secret", "segment_id"] {
            let value = try #require(segments[0][key] as? String)
            #expect(value.count == 64 && value == value.lowercased())
        }
    }

    @Test func version2ToStandardOutput() throws {
        let scratch = try ScratchDirectory()
        let file = try scratch.file("content.bin", bytes: (0..<300_000).map { UInt8(truncatingIfNeeded: ($0 * $0) >> 7) })
        let result = try Peerdist.run("hash", file, "--content-version", "2", "--secret", "pass", "--output", "-")
        #expect(result.status == 0)
        let information = try ContentInformation(decoding: Array(result.output))
        #expect(information.version == 2)
        #expect(information.range == 0..<300_000)
    }

    @Test func contentAddressedHashingIsTheSameOnEveryMachine() throws {
        let scratch = try ScratchDirectory()
        let content = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 >> 3) }
        let first = try scratch.file("a", bytes: content)
        let second = try scratch.file("b", bytes: content)
        let a = try Peerdist.run("hash", first)
        let b = try Peerdist.run("hash", second)
        #expect(a.status == 0 && b.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first + ".ci")) == Data(contentsOf: URL(fileURLWithPath: second + ".ci")))
        #expect(a.standardOutput.contains("content-addressed"))
    }
}
