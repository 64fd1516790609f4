import Logging
import PeerDistHashing
import PeerDistWire
import Testing
@testable import PeerDist
@testable import PeerDistBranchCache
@testable import PeerDistStore

/// BranchCache peers as the fetch scheduler's second transport: a fetch draws every block from
/// MS-PCCRR servers on loopback (the node's own server over a store), verifies each against the
/// Content Information, and bans a peer that sends a bad one.
@Suite struct BranchCacheFetchTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A published file of `count` bytes, served by a PCCRR server (through `wrap`, to make liars).
    private func serving(
        count: Int, version: ContentInformationVersion, seed: UInt64, wrap: (any BranchCacheSegmentSource) -> any BranchCacheSegmentSource = { $0 }
    ) async throws -> (scratch: StoreScratch, bytes: [UInt8], published: PublishedContent, server: PCCRRServer) {
        let (scratch, bytes, file) = try StoreScratch.withFile(count: count, seed: seed)
        let store = try scratch.openStore()
        let published = try store.publish(path: file, version: version)
        let server = try await PCCRRServer.bind(
            host: "127.0.0.1", port: 0, responder: PCCRRResponder(source: wrap(StoreContentSource(store: store))),
            idleTimeout: .minutes(10), logger: Self.logger)
        return (scratch, bytes, published, server)
    }

    /// Fetches from `servers`; `later` start answering only once a block has been rejected (their
    /// sockets take connections from the start), so a liar among `servers` is always asked first.
    private func fetch(
        _ published: PublishedContent, from servers: [PCCRRServer], later: [PCCRRServer] = [], counters: NodeCounters
    ) async throws -> (StoreScratch, Download) {
        let scratch = try StoreScratch(prefix: "peerdist-leecher")
        let store = try scratch.openStore()
        let download = try store.beginDownload(contentID: published.contentID, information: published.information)
        var fetcher = Fetcher(identity: NodeIdentity.generate(), peers: [], counters: counters, logger: Self.logger)
        fetcher.branchCachePeers = (servers + later).map { PeerAddress(host: "127.0.0.1", port: $0.port) }
        // Long, as the servers' idle limit: beside the CLI tests, whose waits hold the cooperative
        // pool, the servers' tasks may not run for seconds.
        fetcher.stallTimeout = .seconds(600)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for server in servers { group.addTask { try await server.run() } }
            for server in later {
                group.addTask {
                    while counters.snapshot.blocksRejected == 0 { try await Task.sleep(for: .milliseconds(10)) }
                    try await server.run()
                }
            }
            defer { group.cancelAll() }
            try await fetcher.fetchBlocks(of: published.information, contentID: published.contentID, into: download, progress: { _ in })
        }
        return (scratch, download)
    }

    @Test(arguments: [ContentInformationVersion.v1, .v2])
    func everyBlockComesOverPCCRRAndVerifies(_ version: ContentInformationVersion) async throws {
        let seeder = try await serving(count: 700_000, version: version, seed: 3)
        let counters = NodeCounters()
        let (scratch, download) = try await fetch(seeder.published, from: [seeder.server], counters: counters)
        _ = scratch
        #expect(download.heldBytes == 700_000)
        let result = try download.finish()
        #expect(try contents(of: result) == seeder.bytes)
        #expect(counters.snapshot.blocksRejected == 0)
        #expect(counters.snapshot.blocksReceived == UInt64(seeder.published.information.segments.reduce(0) { $0 + $1.blockCount }))
    }

    @Test func aPeerThatSendsABadBlockIsBannedAndTheFetchCompletesFromAnother() async throws {
        let honest = try await serving(count: 600_000, version: .v1, seed: 4)
        let liar = try await serving(count: 600_000, version: .v1, seed: 4, wrap: { CorruptingSource(wrapping: $0) })
        let counters = NodeCounters()
        // The honest peer answers only after the liar's first block was refused: on a loaded
        // machine it could otherwise deliver every block before the liar is asked for one.
        let (scratch, download) = try await fetch(honest.published, from: [liar.server], later: [honest.server], counters: counters)
        _ = scratch
        #expect(try contents(of: try download.finish()) == honest.bytes)
        #expect(counters.snapshot.blocksRejected >= 1, "the liar's block was refused")
    }

    @Test func aLiarAloneFailsTheFetchAndIsNamed() async throws {
        let liar = try await serving(count: 200_000, version: .v1, seed: 5, wrap: { CorruptingSource(wrapping: $0) })
        do {
            _ = try await fetch(liar.published, from: [liar.server], counters: NodeCounters())
            Issue.record("a fetch from a liar alone completed")
        } catch {
            #expect("\(error)".contains("failed verification"), "\(error)")
        }
    }
}

/// Serves every block with its first byte flipped.
private struct CorruptingSource: BranchCacheSegmentSource {
    let wrapping: any BranchCacheSegmentSource

    func segment(withID segmentID: HashValue) -> SegmentDescription? { wrapping.segment(withID: segmentID) }
    func heldBlocks(of segment: SegmentDescription) -> [BlockRange] { wrapping.heldBlocks(of: segment) }
    func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? {
        guard var block = wrapping.verifiedBlock(of: segment, index: index), !block.isEmpty else { return nil }
        block[0] ^= 0xFF
        return block
    }
}
