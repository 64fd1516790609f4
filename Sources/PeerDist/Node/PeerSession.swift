import Logging
import NIOCore
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistStore

/// One peer's part of a fetch: learns which blocks the peer has, keeps as many requested from it
/// as its pipe holds (see `PipeEstimator`), taking them from the fetch's `SwarmScheduler`, and
/// verifies and keeps what arrives. Requests for blocks that arrived from another peer first
/// are cancelled.
///
/// Everything the session reacts to (messages, nudges from the scheduler, a timer) arrives as
/// one stream of events, so its state has one owner and needs no locks.
struct PeerSession: Sendable {
    let peer: PeerAddress
    let identity: NodeIdentity
    let discoveryKey: HashValue
    let segments: [SegmentDescription]
    let scheduler: SwarmScheduler
    let target: any DownloadTarget
    let counters: NodeCounters
    let logger: Logger
    var stallTimeout: Duration
    var maximumWindow: Int
    /// With discovery, a peer lacking what is missing may gain it: the session waits and asks again.
    /// Without, it ends.
    var waitsForBlocks: Bool
    var downloadLimit: RateLimiter?
    /// How often the peer is asked again which blocks it has, while it lacks some: often for small
    /// contents, so that fetchers in a swarm learn of each other's blocks while they are still
    /// rare; less often for large ones, whose bitmaps cost more (about 16 KiB per second at most).
    var availabilityInterval: Duration {
        let bitmapBytes = (scheduler.blockCount + 7) / 8
        return .milliseconds(min(2000, max(100, bitmapBytes * 1000 / 16384)))
    }
    /// Called with each verified block's length.
    var received: @Sendable (UInt64) -> Void

    private enum Event: Sendable {
        case message(PeerMessage)
        /// The scheduler has news: blocks given back, or a block asked of this peer arrived elsewhere.
        case nudge
        case tick
    }

    func run() async throws {
        let (channel, remote) = try await PeerNetwork.connect(host: peer.host, port: peer.port, identity: identity)
        logger.debug("fetching", metadata: ["peer": "\(peer)", "peer.fingerprint": "\(remote.fingerprint)"])
        let (events, continuation) = AsyncThrowingStream.makeStream(of: Event.self)
        // Nudges are coalesced: one waiting is as good as many.
        let nudgePending = Flag()
        scheduler.join(peer) {
            if nudgePending.raise() { continuation.yield(.nudge) }
        }
        defer { scheduler.leave(peer) }
        let activity = Watchdog(timeout: stallTimeout)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await activity.run { try? await channel.channel.close() }
            }
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    try await withThrowingTaskGroup(of: Void.self) { readers in
                        readers.addTask {
                            do {
                                for try await message in inbound { continuation.yield(.message(message)) }
                                continuation.finish()
                            } catch {
                                continuation.finish(throwing: error)
                            }
                        }
                        readers.addTask {
                            while true {
                                try await Task.sleep(for: .milliseconds(100))
                                continuation.yield(.tick)
                            }
                        }
                        // What is still asked of the peer when the session ends is given back by `leave`.
                        var state = SessionState(estimator: PipeEstimator(blockSize: Int(segments.first?.blockSize ?? 65536), maximum: maximumWindow))
                        try await outbound.write(state.availabilityRequest(for: discoveryKey, bitmapBytes: (scheduler.blockCount + 7) / 8))
                        for try await event in events {
                            switch event {
                            case .message(let message):
                                activity.touch()
                                try await handle(message, &state)
                            case .nudge:
                                nudgePending.lower()
                                try await cancelArrived(&state, outbound: outbound)
                            case .tick:
                                if state.outstanding.isEmpty && state.availabilityParts == nil {
                                    // Waiting for the peer to gain blocks is not a stall.
                                    activity.touch()
                                    state.estimator.idle()
                                }
                                if state.availabilityParts == nil, !scheduler.hasEverything(peer),
                                   ContinuousClock.now - state.lastAvailabilityRequest >= availabilityInterval {
                                    try await outbound.write(state.availabilityRequest(for: discoveryKey, bitmapBytes: (scheduler.blockCount + 7) / 8))
                                }
                            }
                            if scheduler.isComplete { break }
                            if !(try await sendMore(&state, outbound: outbound)) { break }
                        }
                        readers.cancelAll()
                    }
                }
                activity.finish()
            }
            try await group.next()
            group.cancelAll()
        }
        if !scheduler.isComplete, scheduler.hasWanted(peer) {
            throw NodeError(.unreachable, "the peer closed the connection mid-transfer")
        }
    }

    /// Handles one message from the peer.
    private func handle(_ message: PeerMessage, _ state: inout SessionState) async throws {
        switch message {
        case .availability(let requestID, let blockCount, let offset, let part):
            guard requestID == state.availabilityRequestID, var parts = state.availabilityParts else {
                throw NodeError(.protocolViolation, "the peer sent availability nobody asked for")
            }
            if blockCount != 0, Int(blockCount) != scheduler.blockCount {
                throw NodeError(.protocolViolation, "the peer's availability covers \(blockCount) blocks, not \(scheduler.blockCount)")
            }
            // The total is in bytes of the bitmap; a block count of 0 means the peer holds none.
            let outcome = try parts.add(total: UInt32((UInt64(blockCount) + 7) / 8), offset: offset, part: part)
            let bits: [UInt8]
            switch outcome {
            case .partial:
                state.availabilityParts = parts
                return
            case .notHeld: bits = []
            case .complete(let whole): bits = whole
            }
            state.availabilityParts = nil
            let has = blockCount == 0 ? BlockSet(count: scheduler.blockCount) : BlockSet(bytes: bits, count: scheduler.blockCount)
            guard let has else { throw NodeError(.protocolViolation, "the peer's availability names blocks past the last") }
            scheduler.setAvailability(of: peer, to: has)

        case .block(let requestID, let index, let sealed):
            let block = Int(index)
            guard let request = state.outstanding[requestID], request.remaining.contains(block) else {
                if state.cancelled.contains(requestID) {
                    counters.update { $0.blocksDuplicated += 1 }
                    return
                }
                throw NodeError(.protocolViolation, "the peer sent block \(index) nobody asked for")
            }
            state.arrived(block, of: requestID)
            if !request.sawFirstBlock { state.estimator.firstBlock(after: ContinuousClock.now - request.sentAt) }
            if sealed.flags.contains(.notHeld) {
                scheduler.returned(segment: request.segment, blocks: [block], by: peer, lacking: true)
                return
            }
            guard scheduler.isMissing(segment: request.segment, block: block) else {
                // Another peer's copy came first (the endgame asks twice).
                scheduler.returned(segment: request.segment, blocks: [block], by: peer)
                counters.update { $0.blocksDuplicated += 1 }
                return
            }
            let length = try keep(sealed, segment: request.segment, block: block, keys: state.blockKeys, buffer: &state.blockBuffer)
            scheduler.delivered(segment: request.segment, block: block, by: peer)
            state.estimator.delivered(length, at: .now)
            received(UInt64(length))
            if let downloadLimit {
                // Handling more slowly delays the next requests, and with them the peer's sending.
                try await downloadLimit.wait(for: length)
            }

        case .replyEnd(let requestID):
            if state.cancelled.remove(requestID) != nil { return }
            guard let done = state.outstanding.removeValue(forKey: requestID) else { throw NodeError(.protocolViolation, "the peer ended a request nobody made") }
            state.outstandingBlocks -= done.remaining.count
            // Blocks it never sent (a lying count) are open to others again.
            if !done.remaining.isEmpty { scheduler.returned(segment: done.segment, blocks: Array(done.remaining), by: peer) }

        default:
            throw NodeError(.protocolViolation, "the peer sent an unexpected message")
        }
    }

    /// Opens, verifies and writes one block, through `buffer` (grown to the block's length when
    /// shorter); returns its length.
    private func keep(_ sealed: SealedBlock, segment index: Int, block: Int, keys: BlockKeyCache, buffer: inout [UInt8]) throws -> Int {
        let segment = segments[index]
        let length = segment.blockRange(block).count
        if buffer.count < length { buffer = [UInt8](repeating: 0, count: length) }
        do {
            try buffer.withUnsafeMutableBytes { whole in
                let bytes = UnsafeMutableRawBufferPointer(rebasing: whole[..<length])
                try BlockSealer.open(
                    sealed, key: keys.blockKey(segmentSecret: segment.segmentSecret), segmentID: segment.segmentID, index: UInt32(block), into: bytes)
                counters.update {
                    $0.blocksReceived += 1
                    $0.blockBytesReceived += UInt64(length)
                }
                try target.write(segment: index, block: block, bytes: UnsafeRawBufferPointer(bytes))
            }
        } catch let error as StoreError where error.code != .corruptBlock {
            // The local disk failed (full, unwritable): no other peer can help.
            throw LocalFailure(error: error)
        } catch {
            counters.update { $0.blocksRejected += 1 }
            throw NodeError(.verificationFailed, "sent a block that failed verification (segment \(index), block \(block)); peer banned for this content")
        }
        return length
    }

    /// Requests as many blocks as the window has room for; false when the session has nothing
    /// more to do.
    private func sendMore(_ state: inout SessionState, outbound: NIOAsyncChannelOutboundWriter<PeerMessage>) async throws -> Bool {
        // Requests go out whole: asking again for each block as it lands would cut them into
        // single blocks, and the peer batches its replies per request.
        let budget = state.estimator.window - state.outstandingBlocks
        guard budget >= min(scheduler.blocksPerRequest, state.estimator.window) || state.outstanding.isEmpty else { return true }
        let requests = scheduler.take(for: peer, budget: budget)
        if !requests.isEmpty {
            try await outbound.write(contentsOf: requests.map { state.record($0, segmentID: segments[$0.segment].segmentID) })
        }
        if state.outstanding.isEmpty, state.availabilityParts == nil, !waitsForBlocks, !scheduler.hasWanted(peer) {
            logger.debug("peer lacks the blocks still missing", metadata: ["peer": "\(peer)"])
            return false
        }
        return true
    }

    /// Cancels requests whose every remaining block has arrived from other peers.
    private func cancelArrived(_ state: inout SessionState, outbound: NIOAsyncChannelOutboundWriter<PeerMessage>) async throws {
        var cancels: [PeerMessage] = []
        for (requestID, request) in state.outstanding
        where !request.remaining.contains(where: { scheduler.isMissing(segment: request.segment, block: $0) }) {
            state.outstanding[requestID] = nil
            state.outstandingBlocks -= request.remaining.count
            state.cancelled.insert(requestID)
            scheduler.returned(segment: request.segment, blocks: Array(request.remaining), by: peer)
            cancels.append(.cancel(requestID: requestID))
        }
        if !cancels.isEmpty { try await outbound.write(contentsOf: cancels) }
    }
}

/// What one session has asked of its peer and not yet received.
private struct SessionState {
    struct Outstanding {
        let segment: Int
        var remaining: Set<Int>
        let sentAt: ContinuousClock.Instant
        var sawFirstBlock = false
    }

    var estimator: PipeEstimator
    var outstanding: [UInt32: Outstanding] = [:]
    var outstandingBlocks = 0
    /// Requests cancelled whose end has not arrived yet: their stragglers are ignored.
    var cancelled: Set<UInt32> = []
    var nextRequestID: UInt32 = 1
    /// The bitmap being received, while an availability request is answered.
    var availabilityParts: PartAssembly?
    var availabilityRequestID: UInt32 = 0
    var lastAvailabilityRequest = ContinuousClock.now

    /// Deriving a segment's block key for every block was 3 % of a fetch's CPU.
    let blockKeys = BlockKeyCache()
    /// Each block is opened into this buffer, and hashed and written from it: no allocation per
    /// block, and a buffer that stays in the processor's cache.
    var blockBuffer: [UInt8] = []

    init(estimator: PipeEstimator) {
        self.estimator = estimator
    }

    mutating func availabilityRequest(for key: HashValue, bitmapBytes: Int) -> PeerMessage {
        availabilityRequestID = nextRequestID
        nextRequestID &+= 1
        availabilityParts = PartAssembly(of: "availability", limit: bitmapBytes)
        lastAvailabilityRequest = .now
        return .getAvailability(requestID: availabilityRequestID, discoveryKey: key)
    }

    mutating func record(_ request: SwarmScheduler.Request, segmentID: HashValue) -> PeerMessage {
        let requestID = nextRequestID
        nextRequestID &+= 1
        outstanding[requestID] = Outstanding(segment: request.segment, remaining: Set(request.blocks), sentAt: .now)
        outstandingBlocks += request.blocks.count
        return .getBlocks(requestID: requestID, segmentID: segmentID, ranges: BlockRange.ranges(of: request.blocks))
    }

    mutating func arrived(_ block: Int, of requestID: UInt32) {
        outstanding[requestID]?.remaining.remove(block)
        outstanding[requestID]?.sawFirstBlock = true
        outstandingBlocks -= 1
    }
}

/// A flag raised from any thread.
private final class Flag: Sendable {
    private let value = Atomic(false)

    /// Raises the flag; true when it was down.
    func raise() -> Bool { !value.exchange(true, ordering: .acquiringAndReleasing) }
    func lower() { value.store(false, ordering: .releasing) }
}
