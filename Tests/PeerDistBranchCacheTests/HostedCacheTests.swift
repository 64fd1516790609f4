import Foundation
import Logging
import NIOCore
import PeerDistHashing
import PeerDistWire
import Testing
@testable import PeerDistBranchCache

/// The hosted cache's side of MS-PCHC: offers answered by what is held, segments kept on disk
/// only block by verified block, and found again after a restart.
@Suite struct HostedCacheTests {
    static let (information, content) = TestSegments.version1
    static var segment: SegmentDescription { information.segments[0] }

    private func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hosted-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func block(_ index: Int) -> [UInt8] {
        let range = Self.segment.blockRange(index)
        return Array(Self.content[Int(range.lowerBound)..<Int(range.upperBound)])
    }

    @Test func offersAreAnsweredByWhatIsHeldAndBlocksAreVerified() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let segments = try HostedSegments(directory: directory)
        let cache = HostedCache(segments: segments, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let offer = PCHCMessage(port: 8080, body: .initialOffer(segmentID: Self.segment.segmentID))
        #expect(cache.answer(ByteBuffer(bytes: offer.encoded()), from: nil) == (.ok, PCHCResponse.interested.encoded()))
        let info = try #require(PCHCMessage.segmentInfo(port: 8080, contentTag: Array(repeating: 0, count: 16), segment: Self.segment, algorithm: .sha256))
        #expect(cache.answer(ByteBuffer(bytes: info.encoded()), from: nil) == (.ok, PCHCResponse.ok.encoded()))
        #expect(cache.answer(ByteBuffer(bytes: [1, 2, 3]), from: nil).0 == .badRequest)

        var wrong = block(0)
        wrong[0] ^= 1
        #expect(try segments.keep(wrong, block: 0, of: Self.segment.segmentID) == false, "a block that does not match its hash is not kept")
        #expect(try segments.keep(block(0), block: 0, of: Self.segment.segmentID))
        #expect(!segments.holdsAll(Self.segment.segmentID))
        #expect(try segments.keep(block(1), block: 1, of: Self.segment.segmentID))
        #expect(segments.holdsAll(Self.segment.segmentID))
        #expect(cache.answer(ByteBuffer(bytes: offer.encoded()), from: nil) == (.ok, PCHCResponse.ok.encoded()))

        // After a restart, from disk; a damaged block file is never served.
        let reopened = try HostedSegments(directory: directory)
        let segment = try #require(reopened.segment(withID: Self.segment.segmentID))
        #expect(reopened.heldBlocks(of: segment) == [BlockRange(index: 0, count: 1), BlockRange(index: 1, count: 1)])
        #expect(reopened.verifiedBlock(of: segment, index: 1) == block(1))
        try Data(wrong).write(to: URL(fileURLWithPath: "\(directory)/\(Self.segment.segmentID.hex)/0"))
        #expect(reopened.verifiedBlock(of: segment, index: 0) == nil)
    }

    /// Version 2: a BATCHED_OFFER names segments by ID alone. The cache pulls each from the
    /// offering client's MS-PCCRR server, keeps it sealed as it came, and serves it unchanged to a
    /// request under the same CryptoAlgoId, which the client decrypts and verifies with its own
    /// Content Information; under another CryptoAlgoId it has nothing to give.
    @Test func aBatchedOfferIsPulledKeptSealedAndServedAsItCame() async throws {
        let (information, content) = TestSegments.version2
        let segment = information.segments[0]
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let segments = try HostedSegments(directory: directory)
        let cache = HostedCache(segments: segments, logger: logger)
        let offerer = try await PCCRRServer.bind(
            host: "::1", port: 0, responder: PCCRRResponder(source: TestSegments([TestSegments.version2])), idleTimeout: .minutes(10), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await offerer.run() }
            group.addTask { try await cache.run() }
            defer { group.cancelAll() }
            let offer = PCHCMessage(majorVersion: 2, port: UInt16(offerer.port), body: .batchedOffer([
                PCHCSegmentDescriptor(segmentSize: segment.length, contentTag: Array(repeating: 7, count: 16), segmentID: segment.segmentID),
            ]))
            let client = try SocketAddress(ipAddress: "::1", port: 40_000)
            // Offered again now and then, as clients do: on a loaded machine a pull can fail (a
            // connection timing out) and is not retried until the next offer.
            let deadline = ContinuousClock.now + .seconds(300)
            while !segments.holdsAll(segment.segmentID), ContinuousClock.now < deadline {
                #expect(cache.answer(ByteBuffer(bytes: offer.encoded()), from: client) == (.ok, PCHCResponse.ok.encoded()))
                for _ in 0..<100 where !segments.holdsAll(segment.segmentID) { try await Task.sleep(for: .milliseconds(50)) }
            }
            try #require(segments.holdsAll(segment.segmentID))
        }
        #expect(segments.segment(withID: segment.segmentID) == nil, "the cache has no description of a sealed segment")

        // Served from disk after a restart, through the responder a hosted cache's server uses.
        let responder = PCCRRResponder(source: CombinedSegmentSource([TestSegments([]), try HostedSegments(directory: directory)]))
        func blocks(_ algorithm: PCCRRCryptoAlgorithm) -> PCCRRMessage {
            responder.respond(to: PCCRRMessage(.getBlocks(PCCRRGetBlocks(segmentID: segment.segmentID, ranges: [BlockRange(index: 0, count: 1)])), cryptoAlgorithm: algorithm), busy: false)
        }
        let reply = blocks(.aes128)
        guard case .block(let block) = reply.body else { Issue.record("\(reply.type)"); return }
        #expect(reply.cryptoAlgorithm == .aes128)
        let plaintext = try PCCRRBlockCipher().decrypt(
            block.block, initializationVector: block.initializationVector, algorithm: .aes128, segmentSecret: segment.segmentSecret, length: Int(segment.length))
        #expect(plaintext == content)
        for other in [PCCRRCryptoAlgorithm.none, .aes192, .aes256] {
            guard case .block(let none) = blocks(other).body else { Issue.record("no MSG_BLK under \(other)"); continue }
            #expect(none.isEmpty, "a sealed segment is not served under \(other)")
        }
        let list = responder.respond(to: PCCRRMessage(.getBlockList(PCCRRGetBlockList(segmentID: segment.segmentID, neededRanges: [BlockRange(index: 0, count: 1)]))), busy: false)
        #expect(list.body == .blockList(PCCRRBlockList(segmentID: segment.segmentID, ranges: [BlockRange(index: 0, count: 1)], nextBlockIndex: 0)))
        let other = HashValue([UInt8](repeating: 3, count: 32))
        let request = PCCRRGetSegmentList(requestID: Array(repeating: 9, count: 16), segmentIDs: [other, segment.segmentID])
        guard case .segmentList(let held) = responder.respond(to: PCCRRMessage(.getSegmentList(request)), busy: false).body else { Issue.record("no SEGLIST"); return }
        #expect(held.ranges == [BlockRange(index: 1, count: 1)])
    }

    /// A pulled block that cannot hold the offered size, or holds more, is not kept.
    @Test func aSealedSegmentMustFitItsOfferedSize() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let segments = try HostedSegments(directory: directory)
        let id = HashValue([UInt8](repeating: 5, count: 32))
        let iv = [UInt8](repeating: 1, count: 16)
        for (size, bytes, reason) in [(UInt32(1000), 992, "short"), (1000, 1040, "a block too many"), (1000, 1001, "not whole AES blocks"), (0, 16, "empty"), (131_073, 131_088, "over 128 KiB")] {
            let sealed = SealedSegment(cryptoAlgorithm: .aes128, segmentSize: size, initializationVector: iv, block: Array(repeating: 0, count: bytes))
            #expect(try !segments.keepSealed(sealed, for: id), "\(reason)")
        }
        #expect(try !segments.keepSealed(SealedSegment(cryptoAlgorithm: .aes128, segmentSize: 1000, initializationVector: [], block: Array(repeating: 0, count: 1008)), for: id), "no IV")
        #expect(try !segments.keepSealed(SealedSegment(cryptoAlgorithm: .none, segmentSize: 1000, initializationVector: [], block: Array(repeating: 0, count: 1008)), for: id), "clear, padded")
        #expect(!segments.holdsAll(id))
        #expect(try segments.keepSealed(SealedSegment(cryptoAlgorithm: .aes128, segmentSize: 1000, initializationVector: iv, block: Array(repeating: 0, count: 1008)), for: id))
        #expect(segments.holdsAll(id))
    }
}
