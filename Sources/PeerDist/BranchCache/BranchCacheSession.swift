import Logging
import NIOCore
import PeerDistBranchCache
import PeerDistHashing
import PeerDistStore
import PeerDistWire

/// One BranchCache peer's part of a fetch: the same role as `PeerSession`, over MS-PCCRR.
///
/// It learns which blocks the peer holds with one MSG_GETBLKLIST per segment (for version 2
/// content, whose segments are one block each, with MSG_GETSEGLIST for up to 2 048 segments at a
/// time, as Windows 8 asks a hosted cache; a peer that speaks only MS-PCCRR 1.0 answers that with
/// MSG_NEGO_RESP and is asked per segment from then on), then takes work
/// from the fetch's `SwarmScheduler` and asks for it one MSG_GETBLKS at a time on each of a few
/// keep-alive connections (MS-PCCRR names one block per request). Each block is decrypted with the segment
/// secret and kept only if the download target verifies it against the Content Information. A
/// block that fails to verify under the usual AES key (the leading bytes of Kp) is tried once
/// under the other rule (AES-256 with all of Kp); if that fails too, or the peer answers for
/// another block, the peer is banned for this content. An empty MSG_BLK means the peer lacks
/// the block or is busy: the block goes back to the others.
struct BranchCacheSession: Sendable {
    let peer: PeerAddress
    let segments: [SegmentDescription]
    let scheduler: SwarmScheduler
    let target: any DownloadTarget
    let counters: NodeCounters
    let logger: Logger
    var stallTimeout: Duration
    /// With discovery, a peer lacking what is missing may gain it: the session asks again.
    var waitsForBlocks: Bool
    var downloadLimit: RateLimiter?
    /// What the requests ask for; the response says what was used.
    var cryptoAlgorithm: PCCRRCryptoAlgorithm = .aes128
    /// Blocks each connection takes from the scheduler at a time.
    var budget = 4
    /// Connections to the peer at once.
    var connections = 4
    /// How often the peer is asked again what it holds, while it lacks what is missing.
    var availabilityInterval: Duration = .seconds(1)
    var received: @Sendable (UInt64) -> Void
    /// Whether the peer answers MSG_GETSEGLIST (unknown until asked; false after a NEGO_RESP).
    private let speaksSegmentLists = PThreadMutex<Bool?>(nil)

    func run() async throws {
        scheduler.join(peer) {}
        defer { scheduler.leave(peer) }
        let timeout = TimeAmount.seconds(max(1, stallTimeout.components.seconds))
        // What the peer holds first, on a connection of its own: the workers take work by it.
        try await PCCRRConnection.withConnection(host: peer.host, port: peer.port, idleTimeout: timeout) { connection in
            try await learnAvailability(&connection)
        }
        // MS-PCCRR has one block per request and one request at a time per connection, so a
        // few connections keep the peer's pipe full; a failure (a bad block) ends them all.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<connections {
                group.addTask { try await work(relearnsAvailability: worker == 0, idleTimeout: timeout) }
            }
            while try await group.next() != nil {}
        }
    }

    /// One connection's loop: takes blocks from the scheduler and fetches them until nothing
    /// this peer has is wanted (or, with `waitsForBlocks`, until the fetch completes).
    private func work(relearnsAvailability: Bool, idleTimeout: TimeAmount) async throws {
        try await PCCRRConnection.withConnection(host: peer.host, port: peer.port, idleTimeout: idleTimeout) { connection in
            var keyRule = PCCRRBlockCipher.KeyRule.leadingBytes
            var lastAvailability = ContinuousClock.now
            while !scheduler.isComplete {
                let requests = scheduler.take(for: peer, budget: budget)
                if requests.isEmpty {
                    guard waitsForBlocks || scheduler.hasWanted(peer) else {
                        logger.debug("BranchCache peer lacks the blocks still missing", metadata: ["peer": "\(peer)"])
                        return
                    }
                    try await Task.sleep(for: .milliseconds(100))
                    if relearnsAvailability, ContinuousClock.now - lastAvailability >= availabilityInterval {
                        try await learnAvailability(&connection)
                        lastAvailability = .now
                    }
                    continue
                }
                for request in requests {
                    for block in request.blocks {
                        guard scheduler.isMissing(segment: request.segment, block: block) else {
                            scheduler.returned(segment: request.segment, blocks: [block], by: peer)
                            continue
                        }
                        try await fetch(block, of: request.segment, over: &connection, keyRule: &keyRule)
                    }
                }
            }
        }
    }

    /// Asks which blocks of each segment the peer holds, and tells the scheduler.
    private func learnAvailability(_ connection: inout PCCRRConnection) async throws {
        if segments.allSatisfy({ $0.blockCount == 1 }), speaksSegmentLists.withLock({ $0 }) != false {
            if let has = try await heldWholeSegments(&connection) {
                speaksSegmentLists.withLock { $0 = true }
                scheduler.setAvailability(of: peer, to: has)
                return
            }
            speaksSegmentLists.withLock { $0 = false }
            logger.debug("BranchCache peer speaks MS-PCCRR 1.0 only; asking per segment", metadata: ["peer": "\(peer)"])
        }
        var has = BlockSet(count: scheduler.blockCount)
        for (index, segment) in segments.enumerated() {
            let asked = PCCRRGetBlockList(segmentID: segment.segmentID, neededRanges: [BlockRange(index: 0, count: UInt32(segment.blockCount))])
            let reply = try await connection.exchange(PCCRRMessage(.getBlockList(asked), cryptoAlgorithm: cryptoAlgorithm))
            guard case .blockList(let list) = reply.body, list.segmentID == segment.segmentID else {
                throw NodeError(.protocolViolation, "the BranchCache peer answered a block list request with \(reply.type)")
            }
            for range in list.ranges {
                for block in range.indices where block < segment.blockCount {
                    has.insert(scheduler.number(segment: index, block: block))
                }
            }
        }
        scheduler.setAvailability(of: peer, to: has)
    }

    /// The one-block segments the peer holds, by MSG_GETSEGLIST; `nil` when the peer answers
    /// with MSG_NEGO_RESP (it does not speak version 2.0).
    private func heldWholeSegments(_ connection: inout PCCRRConnection) async throws -> BlockSet? {
        var has = BlockSet(count: scheduler.blockCount)
        var start = 0
        while start < segments.count {
            let end = min(segments.count, start + PCCRR.Limits.maximumSegmentIDs)
            var requestID = [UInt8](repeating: 0, count: PCCRR.Limits.requestIDBytes)
            var generator = SystemRandomNumberGenerator()
            for index in requestID.indices { requestID[index] = generator.next() }
            let asked = PCCRRGetSegmentList(requestID: requestID, segmentIDs: segments[start..<end].map(\.segmentID))
            let reply = try await connection.exchange(PCCRRMessage(.getSegmentList(asked), cryptoAlgorithm: cryptoAlgorithm))
            switch reply.body {
            case .negotiationResponse:
                return nil
            case .segmentList(let list) where list.requestID == requestID:
                for range in list.ranges {
                    for position in range.indices where start + position < end {
                        has.insert(scheduler.number(segment: start + position, block: 0))
                    }
                }
            default:
                throw NodeError(.protocolViolation, "the BranchCache peer answered a segment list request with \(reply.type)")
            }
            start = end
        }
        return has
    }

    /// Fetches, decrypts, verifies and keeps one block.
    private func fetch(_ block: Int, of index: Int, over connection: inout PCCRRConnection, keyRule: inout PCCRRBlockCipher.KeyRule) async throws {
        let segment = segments[index]
        let asked = PCCRRGetBlocks(segmentID: segment.segmentID, ranges: [BlockRange(index: UInt32(block), count: 1)])
        let reply = try await connection.exchange(PCCRRMessage(.getBlocks(asked), cryptoAlgorithm: cryptoAlgorithm))
        guard case .block(let answer) = reply.body, answer.segmentID == segment.segmentID, answer.blockIndex == UInt32(block) else {
            counters.update { $0.blocksRejected += 1 }
            throw NodeError(.verificationFailed, "answered a request for block \(block) of segment \(index) with another; peer banned for this content")
        }
        guard !answer.isEmpty else {
            // Not held, or the peer is busy: others may have it.
            scheduler.returned(segment: index, blocks: [block], by: peer, lacking: true)
            return
        }
        guard scheduler.isMissing(segment: index, block: block) else {
            // Another peer's copy came first (the endgame asks twice).
            scheduler.returned(segment: index, blocks: [block], by: peer)
            counters.update { $0.blocksDuplicated += 1 }
            return
        }
        let length = Int(segment.blockRange(block).count)
        let other: PCCRRBlockCipher.KeyRule = keyRule == .leadingBytes ? .wholeSecret : .leadingBytes
        for rule in reply.cryptoAlgorithm == .none ? [keyRule] : [keyRule, other] {
            guard let bytes = try? PCCRRBlockCipher(keyRule: rule).decrypt(
                answer.block, initializationVector: answer.initializationVector, algorithm: reply.cryptoAlgorithm,
                segmentSecret: segment.segmentSecret, length: length)
            else { continue }
            do {
                try target.write(segment: index, block: block, bytes: bytes)
            } catch let error as StoreError where error.code != .corruptBlock {
                // The local disk failed (full, unwritable): no other peer can help.
                throw LocalFailure(error: error)
            } catch {
                continue
            }
            if rule != keyRule {
                logger.info("BranchCache peer keys AES differently", metadata: ["peer": "\(peer)", "rule": "\(rule.rawValue)"])
                keyRule = rule
            }
            counters.update {
                $0.blocksReceived += 1
                $0.blockBytesReceived += UInt64(length)
            }
            scheduler.delivered(segment: index, block: block, by: peer)
            received(UInt64(length))
            if let downloadLimit { try await downloadLimit.wait(for: length) }
            return
        }
        counters.update { $0.blocksRejected += 1 }
        throw NodeError(.verificationFailed, "sent a block that failed verification (segment \(index), block \(block)); peer banned for this content")
    }
}
