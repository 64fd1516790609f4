import Foundation
import PeerDistHashing
import PeerDistTestHosts
import Testing
@testable import PeerDistMirror

/// Directories by hash: snapshot IDs and roots, manifests assembled from hostile pages, and the
/// stage that materialises a snapshot beside its destination and resumes after a kill.
@Suite struct SnapshotManifestTests {
    typealias Tree = MirrorManifestTests

    @Test func theIDNamesTheRootAndParsesInEveryForm() throws {
        let manifest = try SnapshotManifest.build(entries: Tree.sampleTree.shuffled())
        #expect(manifest.id == (try SnapshotManifest.build(entries: Tree.sampleTree)).id, "the order entries come in changes the ID")
        #expect(manifest.id == SnapshotID(ofRoot: manifest.root.encoded()))
        for text in [manifest.id.uri, manifest.id.hex, "tree:" + manifest.id.base32, manifest.id.uri.uppercased()] {
            #expect(SnapshotID(parsing: text) == manifest.id, "\(text)")
        }
        // A file's content ID form is not a snapshot's.
        #expect(SnapshotID(parsing: "peerdist:" + manifest.id.base32) == nil)
        let reference = try #require(SnapshotReference(parsing: manifest.id.uri + "/src//main.swift/"))
        #expect(reference.id == manifest.id && reference.path == "src/main.swift")
        #expect(SnapshotReference(parsing: manifest.id.uri + "/")?.path == nil)
        // The discovery key and the root key are distinct, and neither is the ID.
        #expect(Set([manifest.id.value, manifest.id.discoveryKey, manifest.id.rootKey]).count == 3)
    }

    @Test func aRootIsAcceptedOnlyForItsOwnID() throws {
        let manifest = try SnapshotManifest.build(entries: Tree.sampleTree)
        let bytes = manifest.root.encoded()
        #expect(try SnapshotRoot(decoding: bytes, expecting: manifest.id) == manifest.root)
        var tampered = bytes
        tampered[tampered.count - 1] ^= 1
        #expect(throws: MirrorError(.wrongMirror, "")) { try SnapshotRoot(decoding: tampered, expecting: manifest.id) }
        let other = try SnapshotManifest.build(entries: Array(Tree.sampleTree.dropLast()))
        #expect(throws: MirrorError(.wrongMirror, "")) { try SnapshotRoot(decoding: bytes, expecting: other.id) }
        // Sealed for the wire, it opens only for its ID.
        let sealed = SealedManifestRoot.seal(bytes, for: manifest.id)
        #expect(try SealedManifestRoot.open(sealed, for: manifest.id) == bytes)
        #expect(throws: MirrorError(.malformed, "")) { try SealedManifestRoot.open(sealed, for: other.id) }
        // Truncated, or with counts that do not add up, it is refused before anything is sized by it.
        #expect(throws: MirrorError(.malformed, "")) { try SnapshotRoot(decoding: Array(bytes.dropLast(3))) }
        var wrongCount = bytes
        wrongCount[9] ^= 0x01
        #expect(throws: MirrorError.self) { try SnapshotRoot(decoding: wrongCount) }
    }

    static let hostile: [(entries: [MirrorEntry], code: MirrorError.Code)] = [
        ([Tree.file("../escape")], .unsafePath),
        ([Tree.file("/etc/passwd")], .unsafePath),
        ([Tree.directory("a"), Tree.file("a/./b")], .unsafePath),
        ([Tree.file(".peerdist-staging")], .unsafePath),
        ([Tree.file("a/b")], .missingParent),
        ([Tree.file("a"), Tree.file("a/b")], .missingParent),
        ([Tree.link("out", "../../etc")], .unsafeSymlink),
        ([Tree.link("abs", "/etc/passwd")], .unsafeSymlink),
        ([Tree.directory("d"), Tree.link("d/up", ".."), Tree.link("l", "d/up/..")], .unsafeSymlink),
        ([Tree.file("b"), Tree.file("a")], .unsorted),
        ([Tree.file("a"), Tree.file("a")], .collision),
        ([MirrorEntry(path: "m", kind: .directory, mode: 0o17777, modified: Tree.time)], .invalidEntry),
    ]

    /// A hostile publisher can put anything in pages and hash it into an ID; the fetcher's
    /// assembly applies the mirror's safety rules all the same.
    @Test(arguments: 0..<hostile.count)
    func hostileManifestsAreRefused(_ index: Int) throws {
        let (entries, code) = Self.hostile[index]
        let pages = ManifestPage.paginate(entries)
        let total = entries.reduce(UInt64(0)) { $0 + $1.size }
        let root = try SnapshotRoot(entryCount: entries.count, totalFileBytes: total, pages: pages.map(\.reference))
        let supplied = Dictionary(uniqueKeysWithValues: pages.map { ($0.hash, $0.bytes) })
        let error = #expect(throws: MirrorError.self) { try SnapshotManifest.assemble(root: root, pages: supplied) }
        #expect(error?.code == code, "\(entries.map(\.path)): \(error.map { "\($0)" } ?? "")")
        // Nor does a publisher build one (it sorts what it is given).
        if code != .unsorted { #expect(throws: MirrorError.self) { try SnapshotManifest.build(entries: entries) } }
    }

    @Test func aPageThatDoesNotMatchItsRootIsRefused() throws {
        let manifest = try SnapshotManifest.build(entries: Tree.sampleTree)
        var pages = Dictionary(uniqueKeysWithValues: manifest.pages.map { ($0.hash, $0.bytes) })
        let first = manifest.pages[0].hash
        pages[first]?[0] ^= 1
        #expect(throws: MirrorError(.corruptPage, "")) { try SnapshotManifest.assemble(root: manifest.root, pages: pages) }
        pages[first] = nil
        #expect(throws: MirrorError(.missingPage, "")) { try SnapshotManifest.assemble(root: manifest.root, pages: pages) }
    }

    /// A stage killed half-way (dropped without being finished or discarded) is resumed by the
    /// next stage of the same snapshot: what was stored is read back, not asked for again.
    @Test func aStageResumesWhatAKilledOneStored() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-stage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let tree = "\(scratch)/tree"
        try FileManager.default.createDirectory(atPath: "\(tree)/sub/empty", withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        for (name, size) in [("a.bin", 3 << 20), ("sub/b.bin", 1 << 20), ("sub/tiny", 10)] {
            // Random words, so that every chunk differs.
            let words = (0..<(size + 7) / 8).map { _ in generator.next() }
            try words.withUnsafeBytes { Data($0.prefix(size)) }.write(to: URL(fileURLWithPath: "\(tree)/\(name)"))
        }
        _ = FileManager.default.createFile(atPath: "\(tree)/zero", contents: nil)
        try FileManager.default.createSymbolicLink(atPath: "\(tree)/link", withDestinationPath: "sub/b.bin")
        let scan = try TreeScanner(root: tree).scan()
        let manifest = try SnapshotManifest.build(entries: scan.entries)
        let source = try LocalChunkIndex(root: tree, entries: manifest.entries)
        let destination = "\(scratch)/copy"

        let first = try SnapshotStage(destination: destination, id: manifest.id, entries: manifest.entries, placement: .tree, replacing: false)
        let update = try #require(first.update)
        let missing = update.missing.sorted { $0.chunk.hash.hex < $1.chunk.hash.hex }
        for chunk in missing.prefix(missing.count / 2) {
            try update.store(try #require(source.read(chunk.chunk)), for: chunk.chunk)
        }
        let stored = update.progress.heldBytes
        #expect(stored > 0)
        #expect(!FileManager.default.fileExists(atPath: destination))

        let second = try SnapshotStage(destination: destination, id: manifest.id, entries: manifest.entries, placement: .tree, replacing: false)
        let resumed = try #require(second.update)
        #expect(resumed.progress.heldBytes == stored)
        for chunk in resumed.missing {
            try resumed.store(try #require(source.read(chunk.chunk)), for: chunk.chunk)
        }
        try second.finish()
        #expect(TreeComparison.firstDifference(tree, destination) == nil, "\(TreeComparison.firstDifference(tree, destination) ?? "")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).sorted() == ["copy", "tree"])
    }
}
