import Foundation
import Testing

@testable import PeerDist
@testable import PeerDistMirror

/// Diffs between manifest versions: a follower rebuilds the new version from its own and the
/// diff, and keeps it only when the pages match the signed root.
struct ManifestDiffTests {
    typealias Fixture = MirrorManifestTests

    static func version1() -> [MirrorEntry] {
        var entries = [Fixture.directory("data"), Fixture.directory("docs")]
        entries.append(Fixture.file("data/large.bin", chunks: (0..<400).map { Fixture.chunk(UInt64($0)) }))
        for index in 0..<300 { entries.append(Fixture.file("docs/file\(index)", chunks: [Fixture.chunk(UInt64(10_000 + index), length: 900)])) }
        entries.append(Fixture.link("latest", "data/large.bin"))
        return entries
    }

    /// One chunk replaced in the middle of the large file, files edited, added, removed, a mode
    /// changed and the link retargeted.
    static func version2() -> [MirrorEntry] {
        var entries = version1()
        var large = (0..<400).map { Fixture.chunk(UInt64($0)) }
        large[200] = Fixture.chunk(99_999)
        entries[2] = Fixture.file("data/large.bin", chunks: large)
        entries[10] = Fixture.file("docs/file7", chunks: [Fixture.chunk(77_777, length: 1200)])
        entries[20].mode = 0o600
        entries.removeAll { $0.path == "docs/file100" || $0.path == "latest" }
        entries.append(Fixture.file("docs/new", chunks: [Fixture.chunk(66_666, length: 10)]))
        entries.append(Fixture.link("latest", "docs/new"))
        return entries
    }

    @Test func aDiffRebuildsTheNewVersionExactly() throws {
        let old = try MirrorManifest.build(entries: Self.version1(), classifier: "diff", version: 1, identity: Fixture.publisher, createdAt: .init(seconds: 1, nanoseconds: 0))
        let new = try MirrorManifest.build(entries: Self.version2(), classifier: "diff", version: 2, identity: Fixture.publisher, createdAt: .init(seconds: 2, nanoseconds: 0))
        let diff = ManifestDiff.between(old.entries, new.entries)
        let decoded = try ManifestDiff(decoding: diff.encoded())
        #expect(decoded == diff)
        // The large file travels as an edit carrying its one new chunk, not all 400.
        let edits = diff.changes.compactMap { change -> Int? in
            if case .fileEdit(_, _, _, _, _, let middle) = change { middle.count } else { nil }
        }
        #expect(edits == [1])
        #expect(diff.removed.count == 1)
        let rebuilt = try MirrorManifest.rebuild(root: new.root, entries: try decoded.apply(to: old.entries))
        #expect(rebuilt.entries == new.entries)
        #expect(rebuilt.pageHashes == new.pageHashes)
        #expect(diff.encoded().count < new.pages.reduce(0) { $0 + $1.bytes.count } / 10)
    }

    @Test func aWrongDiffFailsOnTheRootsPageHashes() throws {
        let old = try MirrorManifest.build(entries: Self.version1(), classifier: "diff", version: 1, identity: Fixture.publisher, createdAt: .init(seconds: 1, nanoseconds: 0))
        let new = try MirrorManifest.build(entries: Self.version2(), classifier: "diff", version: 2, identity: Fixture.publisher, createdAt: .init(seconds: 2, nanoseconds: 0))
        var diff = ManifestDiff.between(old.entries, new.entries)
        diff.changes.append(.entry(Fixture.file("docs/smuggled", chunks: [Fixture.chunk(5)])))
        // Its pages are not the ones the root signs: assembling finds the root's pages missing.
        #expect(throws: MirrorError(.missingPage, "")) {
            try MirrorManifest.rebuild(root: new.root, entries: try diff.apply(to: old.entries))
        }
        // An edit of a file the old version lacks does not apply at all.
        let stray = ManifestDiff(removed: [], changes: [.fileEdit(path: "nope", mode: 0o644, modified: .init(seconds: 0, nanoseconds: 0), prefix: 1, suffix: 0, middle: [])])
        #expect(throws: MirrorError(.malformed, "")) { try stray.apply(to: old.entries) }
    }

    @Test func truncatedOrGarbageDiffsAreRefusedWithoutCrashing() throws {
        let old = try MirrorManifest.build(entries: Self.version1(), classifier: "diff", version: 1, identity: Fixture.publisher, createdAt: .init(seconds: 1, nanoseconds: 0))
        let new = try MirrorManifest.build(entries: Self.version2(), classifier: "diff", version: 2, identity: Fixture.publisher, createdAt: .init(seconds: 2, nanoseconds: 0))
        let bytes = ManifestDiff.between(old.entries, new.entries).encoded()
        for length in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: MirrorError.self) { try ManifestDiff(decoding: Array(bytes.prefix(length))) }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let garbage = Array(ManifestDiff.magic) + [1] + (0..<Int.random(in: 0..<200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? ManifestDiff(decoding: garbage)
        }
    }
}
