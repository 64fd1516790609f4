import Crypto
import PeerDistHashing
import Testing

@testable import PeerDistMirror

/// The update journal a follower reads back after a crash: it survives encoding, and names no
/// path outside the mirror however it was altered.
struct MirrorJournalTests {
    static let time = FileTime(seconds: 1_700_000_000, nanoseconds: 7)

    @Test func aJournalSurvivesEncoding() throws {
        let stamp = PathStamp(kind: .file, size: 10, modified: Self.time, changed: Self.time, inode: 3)
        let journal = MirrorJournal(version: 4, operations: [
            .makeDirectory(path: "docs", replacing: nil),
            .place(staged: "f-1", path: "docs/cafe\u{301}.txt", replacing: stamp),
            .remove(path: "old", expected: stamp),
            .setDirectoryAttributes(path: "docs", mode: 0o755, modified: Self.time),
        ])
        #expect(try MirrorJournal(decoding: journal.encoded(), source: "journal") == journal)
    }

    /// Found by review of what FuzzMirrorFiles checks, and confirmed by replaying this input
    /// through it: paths were split into Characters, and in `../` followed by U+0301 the "/"
    /// and the combining mark are one Character, so the path passed as one harmless component
    /// while the kernel reads `..` then `́`, a file beside the mirror's directory.
    @Test(arguments: ["../\u{301}", "a/../\u{301}", "a//\u{301}", "./\u{301}x"])
    func pathsAreCheckedAsBytes(path: String) throws {
        // The fuzzer's input for the first, after its mode byte: "PDMJ" 1, version 5, one
        // operation: remove "../\u{301}", no stamp; then the checksum.
        var body: [UInt8] = Array("PDMJ".utf8) + [1] + [5, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0] + [3]
        body += withUnsafeBytes(of: UInt32(path.utf8.count).littleEndian) { Array($0) } + Array(path.utf8) + [0]
        if path == "../\u{301}" {
            #expect(Hex.encode(body) == "50444d4a0105000000000000000100000003050000002e2e2fcc8100")
        }
        let error = try #require(throws: MirrorError.self) {
            try MirrorJournal(decoding: body + Array(SHA256.hash(data: body)), source: "journal")
        }
        #expect(error.code == .corrupt)
        #expect(error.message.contains("byte 18"), "\(error.message)")
    }

    @Test(arguments: ["a/\u{301}", ".\u{301}x", ""])
    func stagingNamesAreCheckedAsBytes(staged: String) throws {
        let journal = MirrorJournal(version: 1, operations: [.place(staged: staged, path: "a", replacing: nil)])
        #expect(throws: MirrorError.self) { try MirrorJournal(decoding: journal.encoded(), source: "journal") }
    }
}
