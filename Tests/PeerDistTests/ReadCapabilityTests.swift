import Foundation
import Logging
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistWire
@testable import PeerDistStore

/// The content ID is the read capability: a node that knows only a segment ID (say, from
/// overhearing discovery) can ask for its blocks but cannot read them.
@Suite struct ReadCapabilityTests {
    @Test func askingBySegmentIDWithoutTheKeyYieldsUnreadableBlocks() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-capability-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = "\(directory)/content"
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try Data(content).write(to: URL(fileURLWithPath: file))

        var configuration = PeerNode.Configuration(dataDirectory: DataDirectory(path: "\(directory)/node"), listen: PeerAddress(host: "::1", port: 0))
        configuration.quotaBytes = nil
        let node = try PeerNode(configuration: configuration, logger: Logger(label: "test"))
        let published = try await node.publish(path: file, version: .v1)
        let running = Task { try await node.run() }
        // The node is stopped and awaited before the directory is removed (the deferred removal
        // runs last): a node still shutting down can write into a directory being removed.
        do {
            try await Self.checkBlocksAreUnreadableWithoutTheKey(node: node, published: published, content: content)
        } catch {
            running.cancel()
            _ = await running.result
            throw error
        }
        running.cancel()
        _ = await running.result
    }

    private static func checkBlocksAreUnreadableWithoutTheKey(node: PeerNode, published: PublishedContent, content: [UInt8]) async throws {
        while node.listeningAddresses.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        let port = try #require(PeerAddress(parsing: node.listeningAddresses[0])?.port)

        let segment = try #require(published.information.segments.first)
        let (channel, _) = try await PeerNetwork.connect(host: "::1", port: port, identity: .generate())
        let sealed: SealedBlock = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.getBlocks(requestID: 7, segmentID: segment.segmentID, ranges: [BlockRange(index: 1, count: 1)]))
            for try await message in inbound {
                if case .block(7, 1, let sealed) = message { return sealed }
            }
            throw WireError("no block came back")
        }
        #expect(!sealed.flags.contains(.notHeld))
        let block = Array(content[65_536..<131_072])
        // The payload is not the block, and no guessed key opens it...
        #expect(Data(sealed.payload.readableBytesView).range(of: Data(block.prefix(64))) == nil)
        for wrongKey in [segment.segmentID, segment.hashOfData, HashValue(Sodium.randomBytes(32))] {
            #expect(throws: WireError.self) {
                try BlockSealer.open(sealed, key: wrongKey, segmentID: segment.segmentID, index: 1, expectedLength: block.count)
            }
        }
        // ...while the key derived from the content ID does.
        let key = SegmentKeys.blockKey(segmentSecret: segment.segmentSecret)
        #expect(try BlockSealer.open(sealed, key: key, segmentID: segment.segmentID, index: 1, expectedLength: block.count) == block)
        #expect(published.contentID.serverSecret.hashedKey(for: .sha256).isEmpty == false)
    }
}
