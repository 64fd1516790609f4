import Crypto
import Logging
import NIOCore
import NIOHTTP1
import PeerDistHashing
import PeerDistWire
import Testing
@testable import PeerDistBranchCache

/// The MS-PCCRR server over real HTTP on loopback, asked by `PCCRRConnection`: negotiation,
/// block lists, encrypted blocks verified against the Content Information, busy replies, and
/// HTTP errors that leave the connection serving.
@Suite struct PCCRRServerTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    private func withServer(
        _ source: TestSegments = TestSegments([TestSegments.version1, TestSegments.version2]), activeClientLimit: Int = 64,
        _ body: (inout PCCRRConnection, Int) async throws -> Void
    ) async throws {
        // Idle limits far beyond the test's: on a loaded machine the suite's process-running tests
        // can keep this task from running for longer than the server's 30 s.
        let server = try await PCCRRServer.bind(
            host: "127.0.0.1", port: 0, responder: PCCRRResponder(source: source), activeClientLimit: activeClientLimit,
            idleTimeout: Self.patientIdleTimeout, logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { group.cancelAll() }
            try await PCCRRConnection.withConnection(host: "127.0.0.1", port: server.port, idleTimeout: Self.patientIdleTimeout) { connection in
                try await body(&connection, server.port)
            }
        }
    }

    static let patientIdleTimeout: TimeAmount = .minutes(10)

    static var segment1: SegmentDescription { TestSegments.version1.0.segments[0] }

    @Test func negotiationAnswersVersionOne() async throws {
        try await withServer { connection, _ in
            let reply = try await connection.exchange(PCCRRMessage(.negotiationRequest(PCCRRNegotiation(minimumVersion: .v1, maximumVersion: .v2))))
            #expect(reply == PCCRRMessage(.negotiationResponse(.supported)))
            // A block request in version 2.0 gets the same answer (MS-PCCRR 3.6).
            var getBlocks = PCCRRMessage(.getBlocks(PCCRRGetBlocks(segmentID: Self.segment1.segmentID, ranges: [BlockRange(index: 0, count: 1)]))).encodedRequest()
            getBlocks[3] = 2
            let (status, body) = try await connection.send(method: .POST, uri: PCCRR.path, body: getBlocks)
            #expect(status == .ok)
            #expect(try PCCRRMessage(response: body) == PCCRRMessage(.negotiationResponse(.supported)))
        }
    }

    @Test(arguments: [PCCRRCryptoAlgorithm.none, .aes128, .aes192, .aes256])
    func blocksArriveEncryptedAsAskedAndVerify(_ algorithm: PCCRRCryptoAlgorithm) async throws {
        let segment = Self.segment1
        try await withServer { connection, _ in
            for index in 0..<segment.blockCount {
                let reply = try await connection.exchange(PCCRRMessage(
                    .getBlocks(PCCRRGetBlocks(segmentID: segment.segmentID, ranges: [BlockRange(index: UInt32(index), count: 1)])), cryptoAlgorithm: algorithm))
                #expect(reply.cryptoAlgorithm == algorithm)
                guard case .block(let block) = reply.body else { Issue.record("\(reply.type)"); return }
                #expect(block.blockIndex == UInt32(index))
                #expect(block.nextBlockIndex == (index + 1 < segment.blockCount ? UInt32(index + 1) : 0))
                let length = Int(segment.blockRange(index).count)
                let plaintext = try PCCRRBlockCipher().decrypt(
                    block.block, initializationVector: block.initializationVector, algorithm: reply.cryptoAlgorithm,
                    segmentSecret: segment.segmentSecret, length: length)
                #expect(HashValue(SHA256.hash(data: plaintext)) == segment.blockHashes[index])
            }
        }
    }

    @Test func aVersion2SegmentTravelsAsBlockZero() async throws {
        let segment = TestSegments.version2.0.segments[0]
        try await withServer { connection, _ in
            let reply = try await connection.exchange(PCCRRMessage(
                .getBlocks(PCCRRGetBlocks(segmentID: segment.segmentID, ranges: [BlockRange(index: 0, count: 1)])), cryptoAlgorithm: .aes128))
            guard case .block(let block) = reply.body else { Issue.record("\(reply.type)"); return }
            let plaintext = try PCCRRBlockCipher().decrypt(
                block.block, initializationVector: block.initializationVector, algorithm: .aes128, segmentSecret: segment.segmentSecret, length: Int(segment.length))
            #expect(HashValue(Array(SHA512.hash(data: plaintext)).prefix(32)) == segment.hashOfData)
            #expect(block.nextBlockIndex == 0)
        }
    }

    @Test func blockListsNameTheHeldBlocksAsked() async throws {
        let segment = Self.segment1
        try await withServer(TestSegments([TestSegments.version1], holding: [1])) { connection, _ in
            func list(_ ranges: [BlockRange]) async throws -> PCCRRBlockList? {
                let reply = try await connection.exchange(PCCRRMessage(.getBlockList(PCCRRGetBlockList(segmentID: segment.segmentID, neededRanges: ranges))))
                guard case .blockList(let list) = reply.body else { return nil }
                return list
            }
            #expect(try await list([BlockRange(index: 0, count: 2)])?.ranges == [BlockRange(index: 1, count: 1)])
            let first = try await list([BlockRange(index: 0, count: 1)])
            #expect(first?.ranges == [] && first?.nextBlockIndex == 1, "none of those asked, block 1 after them")
            let unknown = try await connection.exchange(PCCRRMessage(
                .getBlockList(PCCRRGetBlockList(segmentID: HashValue([UInt8](repeating: 3, count: 32)), neededRanges: [BlockRange(index: 0, count: 512)]))))
            #expect(unknown == PCCRRMessage(.blockList(PCCRRBlockList(segmentID: HashValue([UInt8](repeating: 3, count: 32)), ranges: [], nextBlockIndex: 0))))
            let missing = try await connection.exchange(PCCRRMessage(
                .getBlocks(PCCRRGetBlocks(segmentID: segment.segmentID, ranges: [BlockRange(index: 0, count: 1)])), cryptoAlgorithm: .aes128))
            #expect(missing == PCCRRMessage(.block(.notHeld(segmentID: segment.segmentID, blockIndex: 0))))
        }
    }

    @Test func segmentListsNameTheWhollyHeldSegmentsAsked() async throws {
        let whole = TestSegments.version2.0.segments
        let partial = Self.segment1
        let unknown = HashValue([UInt8](repeating: 3, count: 32))
        // Block 0 of each: the whole of the one-block version 2 segment, half the version 1 one.
        try await withServer(TestSegments([TestSegments.version1, TestSegments.version2], holding: [0])) { connection, _ in
            let ids = [unknown] + whole.map(\.segmentID) + [partial.segmentID]
            let reply = try await connection.exchange(PCCRRMessage(.getSegmentList(PCCRRGetSegmentList(requestID: Array(0..<16), segmentIDs: ids))))
            guard case .segmentList(let list) = reply.body else { Issue.record("\(reply.type)"); return }
            #expect(list.requestID == Array(0..<16))
            // Index 0 is not held, 1… are the version 2 segments, the last is held in part.
            #expect(list.ranges == [BlockRange(index: 1, count: UInt32(whole.count))])
            #expect(PCCRRSegmentAges(blob: list.extensibleBlob) != nil)
        }
    }

    @Test func aBusyServerSendsEmptyReplies() async throws {
        let segment = Self.segment1
        try await withServer(activeClientLimit: 0) { connection, _ in
            let block = try await connection.exchange(PCCRRMessage(
                .getBlocks(PCCRRGetBlocks(segmentID: segment.segmentID, ranges: [BlockRange(index: 0, count: 1)])), cryptoAlgorithm: .aes128))
            #expect(block == PCCRRMessage(.block(.notHeld(segmentID: segment.segmentID, blockIndex: 0))))
            let list = try await connection.exchange(PCCRRMessage(.getBlockList(PCCRRGetBlockList(segmentID: segment.segmentID, neededRanges: [BlockRange(index: 0, count: 2)]))))
            #expect(list == PCCRRMessage(.blockList(PCCRRBlockList(segmentID: segment.segmentID, ranges: [], nextBlockIndex: 0))))
            let segments = try await connection.exchange(PCCRRMessage(.getSegmentList(PCCRRGetSegmentList(requestID: Array(0..<16), segmentIDs: [segment.segmentID]))))
            guard case .segmentList(let empty) = segments.body else { Issue.record("\(segments.type)"); return }
            #expect(empty.ranges.isEmpty)
        }
    }

    @Test func badRequestsGetErrorStatusesAndTheConnectionServesOn() async throws {
        let good = PCCRRMessage(.negotiationRequest(PCCRRNegotiation(minimumVersion: .v1, maximumVersion: .v1))).encodedRequest()
        try await withServer { connection, _ in
            let reply1 = try await connection.send(method: .GET, uri: PCCRR.path, body: []).0
            #expect(reply1 == .methodNotAllowed)
            let reply2 = try await connection.send(method: .POST, uri: "/elsewhere/", body: good).0
            #expect(reply2 == .notFound)
            let reply3 = try await connection.send(method: .POST, uri: PCCRR.path, body: []).0
            #expect(reply3 == .badRequest)
            let reply4 = try await connection.send(method: .POST, uri: PCCRR.path, body: Array(good.dropLast())).0
            #expect(reply4 == .badRequest)
            let reply5 = try await connection.send(method: .POST, uri: PCCRR.path.lowercased(), body: good).0
            #expect(reply5 == .ok, "the path's case does not matter")
            let reply6 = try await connection.exchange(PCCRRMessage(request: good)).type
            #expect(reply6 == .negotiationResponse)
        }
    }

    @Test func anOversizedBodyIsRefusedBeforeItIsRead() async throws {
        try await withServer { connection, port in
            // 413, or, when the server's close overtakes the rest of the body on a loaded machine,
            // a connection reset before the client reads the 413: refused either way.
            do {
                let (status, _) = try await connection.send(method: .POST, uri: PCCRR.path, body: Array(repeating: 0, count: PCCRR.Limits.maximumRequestBytes + 1))
                #expect(status == .payloadTooLarge)
            } catch let error as BranchCacheError {
                #expect(error.description.contains("closed the connection"), "\(error)")
            }
            // Others are served on.
            try await PCCRRConnection.withConnection(host: "127.0.0.1", port: port, idleTimeout: Self.patientIdleTimeout) { other in
                let reply7 = try await other.exchange(PCCRRMessage(.negotiationRequest(.supported))).type
                #expect(reply7 == .negotiationResponse)
            }
        }
    }
}
