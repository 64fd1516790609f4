import Logging
import NIOCore
import PeerDistHashing
import Synchronization

/// Where fetched blocks go: verifies each block against its hash before keeping it, and
/// remembers what it holds so an interrupted fetch resumes.
public protocol DownloadTarget: AnyObject, Sendable {
    func isHeld(segment: Int, block: Int) -> Bool
    /// Keeps the block after checking its hash; throws, keeping nothing, when the hash is wrong.
    func write(segment: Int, block: Int, bytes: [UInt8]) throws
    var heldBytes: UInt64 { get }
    var totalBytes: UInt64 { get }
}

/// How a fetch is going, for progress bars and `--json` events.
public struct FetchProgress: Sendable {
    public var heldBytes: UInt64
    public var totalBytes: UInt64
    /// Block bytes received from peers in this run.
    public var receivedBytes: UInt64
    public var peer: String?
    /// Block bytes received from each peer in this run.
    public var bytesByPeer: [String: UInt64] = [:]
}

/// Fetches content by ID from a list of peers: first its Content Information (checked against
/// the ID before anything in it is trusted), then every block not yet held, many requests in
/// flight on one connection. A peer that is unreachable, stalls, lacks blocks or sends one bad
/// block is left for the next; a bad block is never kept.
public struct Fetcher: Sendable {
    public let identity: NodeIdentity
    public let peers: [PeerAddress]
    public let counters: NodeCounters
    public let logger: Logger
    /// Blocks requested but not yet received, per connection.
    public var window = 96
    /// Blocks per request.
    public var blocksPerRequest = 16
    /// A peer that sends nothing for this long is given up.
    public var stallTimeout: Duration = .seconds(15)
    /// Bytes per second to receive at most; `nil` for no limit.
    public var maximumRate: UInt64?
    /// How often a fetch with discovery asks again who holds the content.
    public var rediscoveryInterval: Duration = .milliseconds(1500)

    public init(identity: NodeIdentity, peers: [PeerAddress], counters: NodeCounters, logger: Logger) {
        self.identity = identity
        self.peers = peers
        self.counters = counters
        self.logger = logger
    }

    /// The content's Content Information from the first peer that has it, verified against `id`.
    public func contentInformation(for id: ContentID) async throws -> ContentInformation {
        guard !peers.isEmpty else {
            throw NodeError(.notFound, "no peer on the LAN answered for \(id.uri); name one with --peer [address]:port")
        }
        var failures: [String] = []
        for peer in peers {
            do {
                if let information = try await requestContentInformation(id, from: peer) { return information }
                failures.append("\(peer): does not have it")
            } catch {
                failures.append("\(peer): \(error)")
            }
        }
        throw NodeError(.notFound, "no peer has content \(id.uri)" + (failures.isEmpty ? " (no peers given)" : " (" + failures.joined(separator: "; ") + ")"))
    }

    private func requestContentInformation(_ id: ContentID, from peer: PeerAddress) async throws -> ContentInformation? {
        let (channel, _) = try await PeerNetwork.connect(host: peer.host, port: peer.port, identity: identity)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.getContentInformation(requestID: 1, discoveryKey: id.discoveryKey))
            var sealed: [UInt8] = []
            for try await message in inbound {
                guard case .contentInformation(1, let total, let offset, let part) = message else {
                    throw WireError("the peer answered a Content Information request with something else")
                }
                if total == 0 { return nil }
                guard total <= SealedContentInformation.maximumSize, Int(offset) == sealed.count else {
                    throw WireError("the peer's Content Information parts are out of order or too large")
                }
                sealed += part
                if sealed.count == Int(total) { break }
            }
            let blob = try SealedContentInformation.open(sealed, for: id)
            let information = try ContentInformation(decoding: blob)
            try id.verify(information)
            return information
        }
    }

    /// Fetches every block of `information` that `target` lacks, from all peers at once: each
    /// peer's session takes the next request from a shared queue as it has room, so fast peers
    /// take more; a peer that fails gives its unfinished requests back for the others.
    ///
    /// With `discover`, the fetch also asks again every `rediscoveryInterval` who holds the
    /// content, so peers that gain blocks meanwhile (other fetchers, in a swarm) are drawn on
    /// too, and gives up only when nobody has delivered anything for `stallTimeout`.
    public func fetchBlocks(
        of information: ContentInformation, into target: any DownloadTarget,
        discover: (@Sendable () async -> [PeerAddress])? = nil,
        progress: @escaping @Sendable (FetchProgress) -> Void
    ) async throws {
        let segments = information.segments
        let tally = FetchTally()
        // One limit for the whole fetch, shared by the connections to all peers.
        let downloadLimit = maximumRate.flatMap { $0 > 0 ? RateLimiter(bytesPerSecond: $0) : nil }
        let queue = RequestQueue(Self.requests(for: Self.missingBlocks(segments, target), blocksPerRequest: blocksPerRequest))
        if queue.isEmpty { return }

        enum Event {
            case sessionEnded(PeerAddress)
            case discovered([PeerAddress])
        }
        var known = peers
        var running = Set<PeerAddress>()
        var lastProgress = ContinuousClock.now
        var lastReceived: UInt64 = 0

        try await withThrowingTaskGroup(of: Event.self) { group in
            func start(_ peer: PeerAddress) {
                running.insert(peer)
                group.addTask {
                    do {
                        try await session(with: peer, queue: queue, segments: segments, into: target, downloadLimit: downloadLimit) { bytes in
                            let total = tally.received.wrappingAdd(bytes, ordering: .relaxed).newValue
                            let byPeer = tally.bytesByPeer.withLock { counts in
                                counts[peer.description, default: 0] += bytes
                                return counts
                            }
                            progress(FetchProgress(
                                heldBytes: target.heldBytes, totalBytes: target.totalBytes, receivedBytes: total, peer: peer.description, bytesByPeer: byPeer))
                        }
                    } catch let failure as LocalFailure {
                        throw failure
                    } catch {
                        tally.failures.withLock { $0[peer] = "\(error)" }
                        logger.info("leaving peer", metadata: ["peer": "\(peer)", "error": "\(error)"])
                    }
                    return .sessionEnded(peer)
                }
            }
            func isHealthy(_ peer: PeerAddress) -> Bool { tally.failures.withLock { $0[peer] == nil } }
            func scheduleDiscovery() {
                guard let discover else { return }
                group.addTask {
                    try await Task.sleep(for: rediscoveryInterval)
                    return .discovered(await discover())
                }
            }

            known.forEach(start)
            scheduleDiscovery()
            do {
                while let event = try await group.next() {
                    if Self.missingBlocks(segments, target).isEmpty {
                        group.cancelAll()
                        return
                    }
                    let received = tally.received.load(ordering: .relaxed)
                    if received != lastReceived {
                        lastReceived = received
                        lastProgress = .now
                    }
                    switch event {
                    case .sessionEnded(let peer):
                        running.remove(peer)
                    case .discovered(let found):
                        for peer in found where !known.contains(peer) { known.append(peer) }
                        // Peers lacking blocks before may have gained them since.
                        queue.forgetTries()
                        if ContinuousClock.now - lastProgress < stallTimeout { scheduleDiscovery() }
                    }
                    // Restart every healthy peer that has something to try and no session.
                    for peer in known where !running.contains(peer) && isHealthy(peer) && queue.hasWork(for: peer) {
                        start(peer)
                    }
                    if running.isEmpty, discover == nil || ContinuousClock.now - lastProgress >= stallTimeout { break }
                }
            } catch let failure as LocalFailure {
                throw failure.error
            }
            group.cancelAll()
        }
        let missing = Self.missingBlocks(segments, target)
        guard missing.isEmpty else {
            let reasons = tally.failures.withLock { failures in known.compactMap { peer in failures[peer].map { "\(peer): \($0)" } } }
            throw NodeError(.notFound, "\(missing.count) blocks could not be fetched (" + (reasons.isEmpty ? "no peer has them" : reasons.joined(separator: "; ")) + ")")
        }
    }

    struct Request: Sendable {
        let segment: Int
        let blocks: [Int]
    }

    private static func missingBlocks(_ segments: [SegmentDescription], _ target: any DownloadTarget) -> [(segment: Int, block: Int)] {
        segments.indices.flatMap { segment in
            (0..<segments[segment].blockCount).filter { !target.isHeld(segment: segment, block: $0) }.map { (segment, $0) }
        }
    }

    /// Consecutive blocks of one segment travel in one request.
    private static func requests(for missing: [(segment: Int, block: Int)], blocksPerRequest: Int) -> [Request] {
        var requests: [Request] = []
        for (segment, block) in missing {
            if let last = requests.last, last.segment == segment, last.blocks.count < blocksPerRequest, last.blocks.last == block - 1 {
                requests[requests.count - 1] = Request(segment: segment, blocks: last.blocks + [block])
            } else {
                requests.append(Request(segment: segment, blocks: [block]))
            }
        }
        return requests
    }

    /// One peer's part of a fetch: keeps up to `window` blocks requested from it, taking requests
    /// from `queue`; whatever it has not delivered when it stops goes back to the queue.
    private func session(
        with peer: PeerAddress, queue: RequestQueue, segments: [SegmentDescription], into target: any DownloadTarget,
        downloadLimit: RateLimiter?, received: @escaping @Sendable (UInt64) -> Void
    ) async throws {
        let (channel, remote) = try await PeerNetwork.connect(host: peer.host, port: peer.port, identity: identity)
        logger.debug("fetching", metadata: ["peer": "\(peer)", "peer.fingerprint": "\(remote.fingerprint)"])
        let activity = Watchdog(timeout: stallTimeout)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await activity.run { try? await channel.channel.close() }
            }
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    var outstanding: [UInt32: Request] = [:]
                    var outstandingBlocks = 0
                    var nextRequestID: UInt32 = 1
                    var lacking = 0
                    // Whatever this peer has not delivered when the session ends goes back to the others.
                    defer { queue.giveBack(Array(outstanding.values), by: peer, heldBy: target) }

                    func sendMore() async throws {
                        var messages: [PeerMessage] = []
                        while outstandingBlocks < window, let request = queue.take(for: peer, skipping: { target.isHeld(segment: $0, block: $1) }) {
                            let ranges = BlockRange.ranges(of: request.blocks)
                            messages.append(.getBlocks(requestID: nextRequestID, segmentID: segments[request.segment].segmentID, ranges: ranges))
                            outstanding[nextRequestID] = request
                            outstandingBlocks += request.blocks.count
                            nextRequestID &+= 1
                        }
                        if !messages.isEmpty { try await outbound.write(contentsOf: messages) }
                    }

                    try await sendMore()
                    if outstanding.isEmpty { return }
                    for try await message in inbound {
                        activity.touch()
                        switch message {
                        case .block(let requestID, let index, let sealed):
                            guard let request = outstanding[requestID], request.blocks.contains(Int(index)) else {
                                throw WireError("the peer sent block \(index) nobody asked for")
                            }
                            outstandingBlocks -= 1
                            if sealed.flags.contains(.notHeld) {
                                lacking += 1
                                queue.giveBack([Request(segment: request.segment, blocks: [Int(index)])], by: peer, heldBy: target)
                                continue
                            }
                            let segment = segments[request.segment]
                            let length = segment.blockRange(Int(index)).count
                            let bytes: [UInt8]
                            do {
                                bytes = try BlockSealer.open(
                                    sealed, key: SegmentKeys.blockKey(segmentSecret: segment.segmentSecret),
                                    segmentID: segment.segmentID, index: index, expectedLength: length)
                                counters.update {
                                    $0.blocksReceived += 1
                                    $0.blockBytesReceived += UInt64(length)
                                }
                                try target.write(segment: request.segment, block: Int(index), bytes: bytes)
                            } catch let error as StoreError where error.code != .corruptBlock {
                                // The local disk failed (full, unwritable): no other peer can help.
                                throw LocalFailure(error: error)
                            } catch {
                                counters.update { $0.blocksRejected += 1 }
                                throw NodeError(.verificationFailed, "sent a block that failed verification (segment \(request.segment), block \(index)); peer banned for this content")
                            }
                            received(UInt64(length))
                            if let downloadLimit {
                                // Reading less makes TCP slow the sender down.
                                try await downloadLimit.wait(for: length)
                                activity.touch()
                            }
                        case .blocksDone(let requestID):
                            guard let done = outstanding.removeValue(forKey: requestID) else { throw WireError("the peer ended a request nobody made") }
                            // Blocks of it that never arrived (a lying count) go back too.
                            queue.giveBack([done], by: peer, heldBy: target)
                            try await sendMore()
                            if outstanding.isEmpty { return }
                        default:
                            throw WireError("the peer sent an unexpected message")
                        }
                    }
                    if !outstanding.isEmpty { throw NodeError(.unreachable, "the peer closed the connection mid-transfer") }
                    if lacking > 0 { logger.debug("peer lacks blocks", metadata: ["peer": "\(peer)", "blocks": "\(lacking)"]) }
                }
                activity.finish()
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// What the sessions of one fetch report together: why peers were left, and bytes received.
private final class FetchTally: Sendable {
    let failures = Mutex<[PeerAddress: String]>([:])
    let received = Atomic<UInt64>(0)
    let bytesByPeer = Mutex<[String: UInt64]>([:])
}

/// The requests of a fetch not yet handed to a peer, shared by the sessions with all peers.
/// A request a peer could not serve is not offered to that peer again.
final class RequestQueue: Sendable {
    private struct Entry {
        var request: Fetcher.Request
        var triedBy: Set<PeerAddress>
    }

    private let entries: Mutex<[Entry]>

    init(_ requests: [Fetcher.Request]) {
        // Taken from the end, so reversed to hand out content in order.
        entries = Mutex(requests.reversed().map { Entry(request: $0, triedBy: []) })
    }

    /// The next request `peer` has not tried, with the blocks already held dropped.
    func take(for peer: PeerAddress, skipping isHeld: (Int, Int) -> Bool) -> Fetcher.Request? {
        entries.withLock { entries in
            while let index = entries.lastIndex(where: { !$0.triedBy.contains(peer) }) {
                let entry = entries.remove(at: index)
                let blocks = entry.request.blocks.filter { !isHeld(entry.request.segment, $0) }
                if !blocks.isEmpty { return Fetcher.Request(segment: entry.request.segment, blocks: blocks) }
            }
            return nil
        }
    }

    var isEmpty: Bool { entries.withLock { $0.isEmpty } }

    /// Whether a request `peer` has not tried is waiting.
    func hasWork(for peer: PeerAddress) -> Bool {
        entries.withLock { $0.contains { !$0.triedBy.contains(peer) } }
    }

    /// Lets every peer try every request again.
    func forgetTries() {
        entries.withLock { entries in
            for index in entries.indices { entries[index].triedBy.removeAll() }
        }
    }

    /// Puts back the blocks of `requests` still missing, marked as tried by `peer`.
    func giveBack(_ requests: [Fetcher.Request], by peer: PeerAddress, heldBy target: any DownloadTarget) {
        let remaining = requests.compactMap { request -> Entry? in
            let blocks = request.blocks.filter { !target.isHeld(segment: request.segment, block: $0) }
            return blocks.isEmpty ? nil : Entry(request: Fetcher.Request(segment: request.segment, blocks: blocks), triedBy: [peer])
        }
        guard !remaining.isEmpty else { return }
        entries.withLock { $0.append(contentsOf: remaining) }
    }
}

/// A failure of this node rather than of the peer, which ends the whole fetch.
private struct LocalFailure: Error {
    let error: StoreError
}

/// Closes a connection that has been silent for too long.
private final class Watchdog: Sendable {
    private let lastActivity = Mutex<ContinuousClock.Instant>(.now)
    private let finished = Mutex(false)
    let timeout: Duration

    init(timeout: Duration) {
        self.timeout = timeout
    }

    func touch() { lastActivity.withLock { $0 = .now } }
    func finish() { finished.withLock { $0 = true } }

    func run(onStall: () async -> Void) async throws {
        while !finished.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(250))
            if ContinuousClock.now - lastActivity.withLock({ $0 }) > timeout {
                await onStall()
                throw NodeError(.unreachable, "the peer stopped sending for \(timeout)")
            }
        }
    }
}
