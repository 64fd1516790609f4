import Logging
import PeerDistCollaboration
import NIOCore
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistStore

/// Fetches content by ID from a list of peers: first its Content Information (checked against
/// the ID before anything in it is trusted), then every block not yet held, many requests in
/// flight on one connection. A peer that is unreachable, stalls, lacks blocks or sends one bad
/// block is left for the next; a bad block is never kept.
public struct Fetcher: Sendable {
    public let identity: NodeIdentity
    public let peers: [PeerAddress]
    public let counters: NodeCounters
    public let logger: Logger
    /// Blocks requested but not yet received, per connection, at most; the window of each
    /// connection is sized below that from its measured rate and round trip.
    public var maximumWindow = 256
    /// Blocks per request.
    public var blocksPerRequest = 16
    /// A peer that sends nothing for this long is given up.
    public var stallTimeout: Duration = .seconds(15)
    /// Without discovery, a named peer whose connection fails is connected to again after this
    /// long, doubling up to `maximumReconnectDelay` while the fetch makes no progress, until
    /// nothing has been delivered for `stallTimeout` (a peer restarting, a link that dropped).
    public var reconnectDelay: Duration = .milliseconds(250)
    public var maximumReconnectDelay: Duration = .seconds(4)
    /// Bytes per second to receive at most; `nil` for no limit.
    public var maximumRate: UInt64?
    /// How often a fetch with discovery asks the LAN again who holds the content.
    public var rediscoveryInterval: Duration = .milliseconds(1500)
    /// How often it looks at the holders heard announcing themselves meanwhile.
    public var announcementInterval: Duration = .milliseconds(100)
    /// Whether the first look, `announcementInterval` after the start, asks the LAN too: for a
    /// fetch that started on the first holders to answer rather than waiting for all of them.
    public var asksTheLANAgainAtOnce = false
    /// How often `progress` hears of blocks landing, at most (and once more at the end): blocks
    /// land thousands of times a second, and whoever watches (a progress bar, JSON events over
    /// the control socket) would spend more reporting them than the fetch spends on them.
    public var progressInterval: Duration = .milliseconds(100)
    /// BranchCache peers (MS-PCCRR servers) to draw blocks from beside the PeerDist peers.
    public var branchCachePeers: [PeerAddress] = []
    /// Finds more BranchCache peers (an MS-PCCRD probe); asked once as the fetch starts and
    /// again with each query of the LAN, its finds joining the fetch as they come.
    public var discoverBranchCache: (@Sendable () async -> [PeerAddress])?
    /// A BranchCache origin to draw on as the last resort: only for blocks no peer advertises.
    public var origin: OriginSource?

    public init(identity: NodeIdentity, peers: [PeerAddress], counters: NodeCounters, logger: Logger) {
        self.identity = identity
        self.peers = peers
        self.counters = counters
        self.logger = logger
    }

    /// The content's Content Information from the first peer that has it, verified against `id`.
    /// The content's Content Information from the first peer that has it, and, when that peer
    /// shares it privately, who may read it (see `CollaborationMessage.audience`).
    public func contentInformation(for id: ContentID) async throws -> (information: ContentInformation, audience: Set<PeerKey>?) {
        guard !peers.isEmpty else {
            throw NodeError(.notFound, "no peer on the LAN answered for \(id.uri); name one with --peer [address]:port")
        }
        var failures: [String] = []
        for peer in peers {
            do {
                if let found = try await requestContentInformation(id, from: peer) { return found }
                failures.append("\(peer): does not have it")
            } catch {
                failures.append("\(peer): \(error)")
            }
        }
        throw NodeError(.notFound, "no peer has content \(id.uri)" + (failures.isEmpty ? " (no peers given)" : " (" + failures.joined(separator: "; ") + ")"))
    }

    private func requestContentInformation(_ id: ContentID, from peer: PeerAddress) async throws -> (information: ContentInformation, audience: Set<PeerKey>?)? {
        let (channel, remote) = try await PeerNetwork.connect(host: peer.host, port: peer.port, identity: identity)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.getContentInformation(requestID: 1, discoveryKey: id.discoveryKey))
            var assembly = PartAssembly(of: "Content Information", limit: SealedContentInformation.maximumSize)
            var sealed: [UInt8] = []
            var audience: Set<PeerKey>?
            receiving: for try await message in inbound {
                if case .collaboration(1, let kind, let payload) = message, audience == nil,
                   case .audience(let keys) = try CollaborationMessage(kind: kind, payload: payload) {
                    // The holder shares it privately: whoever it names may read it, and the holder.
                    audience = Set(keys + [remote])
                    continue
                }
                guard case .contentInformation(1, let total, let offset, let part) = message else {
                    throw NodeError(.protocolViolation, "the peer answered a Content Information request with something else")
                }
                switch try assembly.add(total: total, offset: offset, part: part) {
                case .notHeld: return nil
                case .partial: continue
                case .complete(let whole):
                    sealed = whole
                    break receiving
                }
            }
            let blob = try SealedContentInformation.open(sealed, for: id)
            let information = try ContentInformation(decoding: blob)
            try id.verify(information)
            return (information, audience)
        }
    }

    /// Fetches every block of `information` that `target` lacks, from all peers at once. Each
    /// peer's session learns which blocks its peer has and takes work from one `SwarmScheduler`
    /// (rarest first, endgame at the end) as its pipe has room, so fast peers take more; a peer
    /// that fails leaves its unfinished blocks to the others, and one that sends a bad block is
    /// not asked again in this fetch.
    ///
    /// With `discover`, the fetch also looks for holders as it goes: every `announcementInterval`
    /// it takes those heard announcing themselves (`discover(false)`), and every
    /// `rediscoveryInterval` it asks the LAN again (`discover(true)`), so peers that gain blocks
    /// meanwhile (other fetchers, in a swarm) are drawn on too. It gives up only when nobody has
    /// delivered anything for `stallTimeout`. Without, the named peers are all there is: one whose
    /// connection fails (it restarts, the link drops) is connected to again, with back-off, within
    /// the same `stallTimeout` of the last progress; one that broke the protocol or sent a bad
    /// block is not.
    public func fetchBlocks(
        of information: ContentInformation, contentID: ContentID, into target: any DownloadTarget,
        discover: (@Sendable (_ askTheLAN: Bool) async -> [PeerAddress])? = nil,
        progress: @escaping @Sendable (FetchProgress) -> Void
    ) async throws {
        let segments = information.segments
        let tally = FetchTally()
        let throttle = ProgressThrottle(interval: progressInterval)
        @Sendable func report(_ peer: PeerAddress) {
            let byPeer = tally.bytesByPeer.withLock { $0 }
            progress(FetchProgress(
                heldBytes: target.heldBytes, totalBytes: target.totalBytes, receivedBytes: tally.received.load(ordering: .relaxed),
                peer: peer.description, bytesByPeer: byPeer))
        }
        // One limit for the whole fetch, shared by the connections to all peers.
        let downloadLimit = maximumRate.flatMap { $0 > 0 ? RateLimiter(bytesPerSecond: $0) : nil }
        let scheduler = SwarmScheduler(blockCounts: segments.map(\.blockCount), blocksPerRequest: blocksPerRequest) {
            target.isHeld(segment: $0, block: $1)
        }
        if scheduler.isComplete { return }

        enum Event {
            case sessionEnded(PeerAddress, retry: Bool)
            case discovered([PeerAddress])
            case discoveredBranchCache([PeerAddress])
            case reconnect(PeerAddress)
        }
        var known = peers
        var branchCache = branchCachePeers
        var running = Set<PeerAddress>()
        /// Named peers waiting to be connected to again, and how many times in a row each was.
        var reconnecting = Set<PeerAddress>()
        var reconnects: [PeerAddress: (count: Int, receivedAtStart: UInt64)] = [:]
        var lastProgress = ContinuousClock.now
        var lastReceived: UInt64 = 0

        try await withThrowingTaskGroup(of: Event.self) { group in
            /// What a session reports for each verified block: the fetch's tallies and progress.
            func delivered(by peer: PeerAddress) -> @Sendable (UInt64) -> Void {
                // Named once: formatting the address for every block showed in profiles.
                let name = peer.description
                return { bytes in
                    tally.received.wrappingAdd(bytes, ordering: .relaxed)
                    tally.bytesByPeer.withLock { $0[name, default: 0] += bytes }
                    if throttle.admits(peer) { report(peer) }
                }
            }
            /// Runs one peer's session beside the others; its failure leaves the peer, and with
            /// `reconnects` a failure worth it has the peer connected to again.
            func run(_ peer: PeerAddress, _ what: String, reconnects: Bool, _ session: @escaping @Sendable () async throws -> Void) {
                running.insert(peer)
                // With an origin, a peer counts from now as one whose availability is unknown,
                // so the origin is not asked for blocks the peer may have while it connects.
                let preJoined = origin != nil && peer != origin?.address
                if preJoined { scheduler.join(peer) {} }
                group.addTask {
                    defer { if preJoined { scheduler.leave(peer) } }
                    do {
                        try await session()
                    } catch let failure as LocalFailure {
                        throw failure
                    } catch {
                        tally.failures.withLock { $0[peer] = "\(error)" }
                        logger.info("leaving \(what)", metadata: ["peer": "\(peer)", "error": "\(error)"])
                        return .sessionEnded(peer, retry: reconnects && Self.isWorthReconnecting(after: error))
                    }
                    return .sessionEnded(peer, retry: false)
                }
            }
            func start(_ peer: PeerAddress) {
                let session = PeerSession(
                    peer: peer, identity: identity, discoveryKey: contentID.discoveryKey, segments: segments, scheduler: scheduler,
                    target: target, counters: counters, logger: logger, stallTimeout: stallTimeout, maximumWindow: maximumWindow,
                    waitsForBlocks: discover != nil, downloadLimit: downloadLimit, received: delivered(by: peer))
                run(peer, "peer", reconnects: true) { try await session.run() }
            }
            /// Connects to a named peer again after a back-off that doubles while it delivers nothing.
            func reconnect(_ peer: PeerAddress) {
                let received = tally.bytesByPeer.withLock { $0[peer.description, default: 0] }
                var count = reconnects[peer]?.count ?? 0
                if let last = reconnects[peer], received > last.receivedAtStart { count = 0 }
                reconnects[peer] = (count + 1, received)
                let delay = min(reconnectDelay * (1 << min(count, 16)), maximumReconnectDelay)
                reconnecting.insert(peer)
                logger.info("connecting to the peer again", metadata: ["peer": "\(peer)", "in": "\(delay)"])
                group.addTask {
                    try await Task.sleep(for: delay)
                    return .reconnect(peer)
                }
            }
            func startBranchCache(_ peer: PeerAddress) {
                let session = BranchCacheSession(
                    peer: peer, segments: segments, scheduler: scheduler, target: target, counters: counters, logger: logger,
                    stallTimeout: stallTimeout, waitsForBlocks: discover != nil, downloadLimit: downloadLimit, received: delivered(by: peer))
                run(peer, "BranchCache peer", reconnects: false) { try await session.run() }
            }
            func isHealthy(_ peer: PeerAddress) -> Bool { tally.failures.withLock { $0[peer] == nil } }
            var lastQuery = ContinuousClock.now
            var asksAtOnce = asksTheLANAgainAtOnce
            func scheduleDiscovery() {
                guard let discover else { return }
                let askTheLAN = asksAtOnce || ContinuousClock.now - lastQuery >= rediscoveryInterval
                // The BranchCache probe went out at the start: not again with this early query.
                let probesBranchCache = askTheLAN && !asksAtOnce
                asksAtOnce = false
                if askTheLAN { lastQuery = .now }
                group.addTask {
                    try await Task.sleep(for: announcementInterval)
                    return .discovered(await discover(askTheLAN))
                }
                if probesBranchCache, let discoverBranchCache {
                    group.addTask { .discoveredBranchCache(await discoverBranchCache()) }
                }
            }

            known.forEach(start)
            branchCache.filter { !running.contains($0) }.forEach(startBranchCache)
            if let origin {
                let session = OriginSession(
                    origin: origin, segments: segments, scheduler: scheduler, target: target, logger: logger, stallTimeout: stallTimeout,
                    downloadLimit: downloadLimit, received: delivered(by: origin.address))
                run(origin.address, "origin", reconnects: false) { try await session.run() }
            }
            if let discoverBranchCache {
                group.addTask { .discoveredBranchCache(await discoverBranchCache()) }
            }
            scheduleDiscovery()
            do {
                while let event = try await group.next() {
                    if scheduler.isComplete {
                        group.cancelAll()
                        break
                    }
                    let received = tally.received.load(ordering: .relaxed)
                    if received != lastReceived {
                        lastReceived = received
                        lastProgress = .now
                    }
                    switch event {
                    case .sessionEnded(let peer, let retry):
                        running.remove(peer)
                        if discover == nil, retry, ContinuousClock.now - lastProgress < stallTimeout { reconnect(peer) }
                    case .reconnect(let peer):
                        reconnecting.remove(peer)
                        tally.failures.withLock { _ = $0.removeValue(forKey: peer) }
                        start(peer)
                    case .discoveredBranchCache(let found):
                        for peer in found where !branchCache.contains(peer) && !known.contains(peer) {
                            branchCache.append(peer)
                            startBranchCache(peer)
                        }
                    case .discovered(let found):
                        for peer in found where !known.contains(peer) { known.append(peer) }
                        if ContinuousClock.now - lastProgress < stallTimeout { scheduleDiscovery() }
                        // Newly found peers, and known ones whose sessions ended without failing (they
                        // closed while they had nothing wanted), are drawn on.
                        for peer in known where !running.contains(peer) && isHealthy(peer) { start(peer) }
                    }
                    if running.isEmpty, reconnecting.isEmpty, discover == nil || ContinuousClock.now - lastProgress >= stallTimeout { break }
                }
            } catch let failure as LocalFailure {
                throw failure.error
            }
            group.cancelAll()
        }
        if let peer = throttle.withheld { report(peer) }
        let missing = scheduler.missingCount
        guard missing == 0 else {
            let reasons = tally.failures.withLock { failures in (known + branchCache + (origin.map { [$0.address] } ?? [])).compactMap { peer in failures[peer].map { "\(peer): \($0)" } } }
            throw NodeError(.notFound, "\(missing) blocks could not be fetched (" + (reasons.isEmpty ? "no peer has them" : reasons.joined(separator: "; ")) + ")")
        }
    }
}

extension Fetcher {
    /// Whether a session that failed this way may succeed on a new connection: yes when the
    /// connection failed or closed, no when the peer broke the protocol or sent a bad block.
    static func isWorthReconnecting(after error: any Error) -> Bool {
        guard let error = error as? NodeError else { return true }
        return error.code != .protocolViolation && error.code != .verificationFailed
    }
}

/// What the sessions of one fetch report together: why peers were left, and bytes received.
private final class FetchTally: Sendable {
    let failures = PThreadMutex<[PeerAddress: String]>([:])
    let received = Atomic<UInt64>(0)
    let bytesByPeer = PThreadMutex<[String: UInt64]>([:])
}

/// A failure of this node rather than of the peer, which ends the whole fetch.
struct LocalFailure: Error {
    let error: StoreError
}
