import Crypto
import Foundation
import Logging
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistWire
@testable import PeerDistMirror

/// A holder that serves a hostile snapshot over a real connection: a root that hashes to the ID
/// asked for (a hostile publisher can hash anything), whose pages name paths outside the tree.
/// The fetching node refuses the manifest before it writes anything, anywhere.
@Suite struct HostileSnapshotHolderTests {
    typealias Tree = MirrorManifestTests

    /// Serves one root and its pages for one discovery key, and nothing else.
    struct HostileSource: MirrorSource {
        let id: SnapshotID
        let root: [UInt8]
        let pages: [HashValue: [UInt8]]

        func sealedRoot(forDiscoveryKey key: HashValue) -> [UInt8]? {
            key == id.discoveryKey ? SealedManifestRoot.seal(root, for: id) : nil
        }

        func page(forDiscoveryKey key: HashValue, hash: HashValue) -> [UInt8]? {
            key == id.discoveryKey ? pages[hash] : nil
        }

        func diff(forDiscoveryKey key: HashValue, from: UInt64, to: UInt64) -> [UInt8]? { nil }
        func chunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference) -> [UInt8]? { nil }
    }

    /// Holds no content: only the snapshot is served.
    struct NoContent: ContentSource {
        func content(forDiscoveryKey key: HashValue) -> (id: ContentID, information: ContentInformation)? { nil }
        func availability(of id: ContentID) -> (blockCount: Int, bits: [UInt8])? { nil }
        func segment(withID segmentID: HashValue) -> SegmentDescription? { nil }
        func contentID(ofSegment segmentID: HashValue) -> ContentID? { nil }
        func heldBlocks(of segment: SegmentDescription) -> [BlockRange] { [] }
        func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? { nil }
    }

    static let trees: [(name: String, entries: [MirrorEntry], problem: String)] = [
        ("a file above the tree", [Tree.file("../escape")], "not a safe path"),
        ("a link out of the tree", [Tree.link("out", "../../etc")], "leads out of the mirror"),
        ("the fetcher's own staging name", [Tree.directory(".peerdist-staging"), Tree.file(".peerdist-staging/f0")], "not a safe path"),
        ("a file under a file", [Tree.file("a"), Tree.file("a/b")], "which is a file, not a directory"),
    ]

    @Test(.timeLimit(.minutes(5)), arguments: 0..<trees.count)
    func aHostileManifestIsRefusedBeforeAnythingIsWritten(_ index: Int) async throws {
        let (_, entries, problem) = Self.trees[index]
        let pages = ManifestPage.paginate(entries)
        let root = try SnapshotRoot(entryCount: entries.count, totalFileBytes: entries.reduce(0) { $0 + $1.size }, pages: pages.map(\.reference))
        let source = HostileSource(id: root.id, root: root.encoded(), pages: Dictionary(uniqueKeysWithValues: pages.map { ($0.hash, $0.bytes) }))

        let scratch = try StoreScratch(prefix: "hostile-snapshot")
        let counters = NodeCounters()
        let listener = try await PeerNetwork.listen(host: "::1", port: 0, identity: .generate())
        let port = try #require(listener.channel.localAddress?.port)
        let server = PeerRequestServer(source: NoContent(), mirrors: source, counters: counters, logger: Logger(label: "hostile"), corruptsBlocks: false, uploadLimit: nil)
        let serving = Task { try await listener.acceptEach { await server.serve($0) } }
        defer { serving.cancel() }

        let node = try PeerNode(configuration: PeerNode.Configuration(dataDirectory: DataDirectory(path: "\(scratch.path)/node")), logger: Logger(label: "fetcher"))
        let parent = try scratch.directory("fetches")
        let output = "\(parent)/copy"
        let error = await #expect(throws: NodeError.self) {
            _ = try await node.mirrors.fetchSnapshot(
                SnapshotReference(id: root.id), peers: [PeerAddress(host: "::1", port: port)], output: output, replace: false) { _ in }
        }
        #expect(error?.message.contains(problem) == true, "\(error.map { "\($0)" } ?? "")")
        // Nothing at the destination, nothing staged beside it, nothing above it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/escape"))
        // And the listing is refused the same way.
        await #expect(throws: NodeError.self) { _ = try await node.mirrors.snapshotManifest(root.id, peers: [PeerAddress(host: "::1", port: port)]) }
    }
}
