import Foundation
import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization

/// A Mainline DHT node (BEP 5, BEP 32, BEP 42, BEP 44) on one UDP socket, IPv6 and IPv4.
///
/// Incoming datagrams are decoded, checked and answered on NIO's event loop under one short lock
/// (routing tables, stored peers and items, write tokens, per-address limits); nothing there
/// waits, so a flood costs CPU but never stalls the rest of the node, and every table it touches
/// is bounded. Outgoing queries wait for their answer on a continuation that a timeout ends.
/// Lookups (`DHTNode+Lookup.swift`) query the closest known nodes several at a time.
public final class DHTNode: Sendable {
    public struct Configuration: Sendable {
        /// UDP address and port to bind; port 0 picks one. With `fallbackToAnyPort`, a port in
        /// use gives way to one the system picks.
        public var host = "::"
        public var port = 0
        public var fallbackToAnyPort = false
        /// BitTorrent's customary DHT port.
        public static let defaultPort = 6881
        /// `host:port` or `[address]:port` of nodes to join through.
        public var bootstrap: [String] = Configuration.wellKnownRouters
        /// Where the node ID and routing table are kept between runs; `nil` keeps nothing.
        public var stateFile: String?
        public var queryTimeout: Duration = .milliseconds(1500)
        /// Queries a lookup keeps in flight (BEP 5's α).
        public var parallelism = 4
        /// The routers BitTorrent clients join through.
        public static let wellKnownRouters = [
            "router.bittorrent.com:6881", "dht.transmissionbt.com:6881", "router.utorrent.com:6881", "dht.libtorrent.org:25401",
        ]

        public init() {}
    }

    /// `v` in every message: "PD" and a version.
    static let clientVersion: [UInt8] = [0x50, 0x44, 0x00, 0x01]
    static let maximumPendingQueries = 2048
    /// Nodes returned per family in an answer, and kept per lookup (BEP 5's k).
    static let k = 8

    public let configuration: Configuration
    let logger: Logger
    let state: PThreadMutex<State>
    private let socket = PThreadMutex<Socket?>(nil)
    public let counters = DHTCounters()

    struct Socket {
        let channel: any Channel
        /// A dual-stack socket reaches IPv4 nodes through IPv4-mapped addresses.
        let dualStack: Bool
    }

    struct Pending {
        let endpoint: DHTEndpoint
        let continuation: CheckedContinuation<KRPCMessage?, Never>
    }

    struct State {
        var ownID: NodeID
        var ipv4: RoutingTable
        var ipv6: RoutingTable
        var storage = NodeStorage()
        var tokens: WriteTokens
        var limiter = AddressRateLimiter()
        var pending: [[UInt8]: Pending] = [:]
        var nextTransaction = UInt16.random(in: .min ... .max)
        /// Set once the node took a BEP 42 ID for the public address others see.
        var boundToAddress = false

        mutating func table(for endpoint: DHTEndpoint) -> RoutingTable {
            endpoint.isIPv6 ? ipv6 : ipv4
        }

        mutating func heard(from node: DHTNodeInfo, now: ContinuousClock.Instant) {
            // BEP 42: a public address must carry an ID derived from it to enter the table.
            guard node.id != ownID, NodeIDRules.isValid(node.id, for: node.endpoint) else { return }
            if node.endpoint.isIPv6 { ipv6.insert(node, at: now) } else { ipv4.insert(node, at: now) }
        }
    }

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let saved = configuration.stateFile.flatMap(SavedState.load)
        let id = saved?.id ?? NodeID.random()
        let now = ContinuousClock.now
        var state = State(ownID: id, ipv4: RoutingTable(ownID: id), ipv6: RoutingTable(ownID: id), tokens: WriteTokens(now: now))
        for node in saved?.nodes ?? [] { state.heard(from: node, now: now) }
        self.state = PThreadMutex(state)
    }

    public var nodeID: NodeID { state.withLock { $0.ownID } }

    /// Nodes in the routing tables (IPv4, IPv6).
    public var routingTableSize: (ipv4: Int, ipv6: Int) { state.withLock { ($0.ipv4.count, $0.ipv6.count) } }

    /// The bound UDP port, once `run` has bound it.
    public var boundPort: Int? { socket.withLock { $0?.channel.localAddress?.port } }

    // MARK: Running

    /// Binds the socket, joins the DHT and keeps the routing table fresh until cancelled.
    /// `ready` is called once the socket is bound. A socket that NIO closes (on an ICMP error)
    /// is bound again; lookups under way then time out rather than fail.
    public func run(ready: @Sendable (Int) -> Void = { _ in }) async throws {
        let channel: any Channel
        do {
            channel = try await bind()
        } catch where configuration.fallbackToAnyPort && configuration.port != 0 {
            logger.info("DHT port \(configuration.port) is taken; using another")
            channel = try await bind(port: 0)
        }
        ready(channel.localAddress?.port ?? configuration.port)
        defer { saveState() }
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.keepSocketOpen() }
                group.addTask { await self.maintain() }
            }
        } onCancel: {
            self.socket.withLock { $0?.channel.close(promise: nil) }
        }
    }

    private func bind(port: Int? = nil) async throws -> any Channel {
        let port = port ?? configuration.port
        // No SO_REUSEADDR: a second socket on the port would receive some of this one's answers.
        let bootstrap = DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DHTChannelHandler(node: self)) }
            }
        let channel: any Channel
        var dualStack = false
        if configuration.host == "::" {
            do {
                channel = try await bootstrap.bind(host: "::", port: port).get()
                dualStack = true
            } catch {
                // No IPv6 here: IPv4 alone.
                channel = try await bootstrap.bind(host: "0.0.0.0", port: port).get()
            }
        } else {
            channel = try await bootstrap.bind(host: configuration.host, port: port).get()
        }
        socket.withLock { $0 = Socket(channel: channel, dualStack: dualStack) }
        logger.info("Mainline DHT node on UDP", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "id": "\(nodeID)"])
        return channel
    }

    private func keepSocketOpen() async {
        while !Task.isCancelled {
            guard let current = socket.withLock({ $0?.channel }) else { return }
            try? await current.closeFuture.get()
            failAllPending()
            guard !Task.isCancelled else { return }
            logger.warning("the DHT socket closed; binding it again")
            try? await Task.sleep(for: .seconds(1))
            guard !Task.isCancelled else { return }
            do {
                _ = try await bind(port: current.localAddress?.port)
            } catch {
                logger.warning("cannot bind the DHT socket again", metadata: ["error": "\(error)"])
            }
        }
    }

    private func failAllPending() {
        let pending = state.withLock { state in
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for entry in pending { entry.continuation.resume(returning: nil) }
    }

    /// Joins through the bootstrap nodes and the nodes saved from the last run, refreshes
    /// the table every 15 minutes and saves it every minute.
    private func maintain() async {
        var lastRefresh = ContinuousClock.now
        var lastSave = ContinuousClock.now
        var pause: Duration = .seconds(2)
        await bootstrap()
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            let now = ContinuousClock.now
            let size = routingTableSize
            if size.ipv4 + size.ipv6 == 0 {
                // Alone: try the bootstrap nodes again, less often each time.
                do { try await Task.sleep(for: pause) } catch { return }
                pause = min(pause * 2, .seconds(60))
                await bootstrap()
                continue
            }
            pause = .seconds(2)
            if now - lastRefresh > .seconds(15 * 60) {
                lastRefresh = now
                await refresh()
            }
            if now - lastSave > .seconds(60) {
                lastSave = now
                saveState()
                state.withLock { $0.storage.expire(now: now) }
            }
        }
    }

    /// Asks each bootstrap node for the nodes closest to this one, then looks itself up.
    public func bootstrap() async {
        var endpoints: [DHTEndpoint] = []
        for entry in configuration.bootstrap {
            endpoints += await Self.resolve(entry)
        }
        let own = nodeID
        await withDiscardingTaskGroup { group in
            for endpoint in endpoints {
                group.addTask { _ = await self.query(.findNode(id: own, target: own, want: self.wantedFamilies), to: endpoint) }
            }
        }
        _ = await lookup(own, kind: .findNode)
        let size = routingTableSize
        logger.debug("DHT bootstrap", metadata: ["ipv4": "\(size.ipv4)", "ipv6": "\(size.ipv6)", "bootstrap nodes": "\(endpoints.count)"])
    }

    /// Pings nodes not heard from in 15 minutes (a failed one makes room for the next) and
    /// looks up this node's ID and a random one.
    private func refresh() async {
        let stale = state.withLock { $0.ipv4.questionable(olderThan: .seconds(900), now: .now) + $0.ipv6.questionable(olderThan: .seconds(900), now: .now) }
        let own = nodeID
        await withDiscardingTaskGroup { group in
            for node in stale.prefix(64) { group.addTask { _ = await self.query(.ping(id: own), to: node.endpoint) } }
        }
        _ = await lookup(own, kind: .findNode)
        _ = await lookup(NodeID.random(), kind: .findNode)
    }

    /// `host:port` or `[address]:port`, resolved (the well-known routers are names).
    static func resolve(_ entry: String) async -> [DHTEndpoint] {
        guard let colon = entry.lastIndex(of: ":"), let port = Int(entry[entry.index(after: colon)...]), (1...65535).contains(port) else { return [] }
        var host = String(entry[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if let address = try? SocketAddress(ipAddress: host, port: port) { return DHTEndpoint(address).map { [$0] } ?? [] }
        let name = host
        let resolved: [SocketAddress]? = try? await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(name, String(port), &hints, &list) == 0, let first = list else { return [] }
            defer { freeaddrinfo(first) }
            var found: [SocketAddress] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let address = entry.pointee.ai_addr {
                    switch Int32(address.pointee.sa_family) {
                    case AF_INET:
                        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { found.append(SocketAddress($0.pointee, host: name)) }
                    case AF_INET6:
                        address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { found.append(SocketAddress($0.pointee, host: name)) }
                    default: break
                    }
                }
                cursor = entry.pointee.ai_next
            }
            return found
        }
        var endpoints: [DHTEndpoint] = []
        for address in resolved ?? [] {
            if let endpoint = DHTEndpoint(address), !endpoints.contains(endpoint) { endpoints.append(endpoint) }
        }
        return endpoints
    }

    var wantedFamilies: WantedFamilies {
        socket.withLock { $0?.dualStack ?? true } ? [.ipv4, .ipv6] : [.ipv4]
    }

    // MARK: Queries out

    /// Sends `query` to `endpoint` and waits for its answer (a response or an error), or `nil`
    /// after the query timeout.
    func query(_ query: KRPCQuery, to endpoint: DHTEndpoint) async -> KRPCMessage? {
        guard let socket = socket.withLock({ $0 }), let address = socketAddress(for: endpoint, dualStack: socket.dualStack) else { return nil }
        let timeout = TimeAmount.nanoseconds(Int64(configuration.queryTimeout.components.seconds) * 1_000_000_000 + configuration.queryTimeout.components.attoseconds / 1_000_000_000)
        return await withCheckedContinuation { continuation in
            let transaction: [UInt8]? = state.withLock { state in
                guard state.pending.count < Self.maximumPendingQueries else { return nil }
                var id: [UInt8]
                repeat {
                    state.nextTransaction &+= 1
                    id = [UInt8(state.nextTransaction >> 8), UInt8(state.nextTransaction & 0xff)]
                } while state.pending[id] != nil
                state.pending[id] = Pending(endpoint: endpoint, continuation: continuation)
                return id
            }
            guard let transaction else {
                continuation.resume(returning: nil)
                return
            }
            let message = KRPCMessage(transactionID: transaction, body: .query(query), clientVersion: Self.clientVersion)
            counters.queriesSent.add(1, ordering: .relaxed)
            socket.channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: message.encoded)), promise: nil)
            socket.channel.eventLoop.scheduleTask(in: timeout) { self.timeOut(transaction) }
        }
    }

    private func timeOut(_ transaction: [UInt8]) {
        let pending = state.withLock { state -> Pending? in
            guard let pending = state.pending.removeValue(forKey: transaction) else { return nil }
            if pending.endpoint.isIPv6 { state.ipv6.recordFailure(of: pending.endpoint) } else { state.ipv4.recordFailure(of: pending.endpoint) }
            return pending
        }
        pending?.continuation.resume(returning: nil)
    }

    private func socketAddress(for endpoint: DHTEndpoint, dualStack: Bool) -> SocketAddress? {
        if endpoint.isIPv6 { return dualStack ? endpoint.socketAddress : nil }
        return dualStack ? try? SocketAddress(ipAddress: "::ffff:\(endpoint.host)", port: Int(endpoint.port)) : endpoint.socketAddress
    }

    // MARK: Datagrams in

    /// Handles one datagram; returns the answer to send back, if any.
    package func receive(_ datagram: [UInt8], from address: SocketAddress) -> [UInt8]? {
        guard let endpoint = DHTEndpoint(address) else { return nil }
        counters.datagramsReceived.add(1, ordering: .relaxed)
        let now = ContinuousClock.now
        let message: KRPCMessage
        do {
            message = try KRPCMessage(decoding: datagram)
        } catch {
            counters.datagramsRefused.add(1, ordering: .relaxed)
            // A query readable as far as its transaction ID hears why (BEP 5's error 203),
            // within the sender's query allowance.
            guard let transaction = error.transactionID, state.withLock({ $0.limiter.allows(endpoint.address, now: now) }) else { return nil }
            return KRPCMessage(transactionID: transaction, body: .error(code: error.code, message: "\(error)"), clientVersion: Self.clientVersion).encoded
        }
        switch message.body {
        case .query(let query):
            return answer(query, in: message, from: endpoint, now: now)
        case .response, .error:
            complete(message, from: endpoint, now: now)
            return nil
        }
    }

    private func complete(_ message: KRPCMessage, from endpoint: DHTEndpoint, now: ContinuousClock.Instant) {
        let pending = state.withLock { state -> Pending? in
            // Only an answer from where the query went counts: a guessed transaction ID from
            // elsewhere is dropped.
            guard let pending = state.pending[message.transactionID], pending.endpoint == endpoint else { return nil }
            state.pending.removeValue(forKey: message.transactionID)
            if case .response(let response) = message.body {
                state.heard(from: DHTNodeInfo(id: response.id, endpoint: endpoint), now: now)
                if let observed = message.observedAddress { adopt(observed, in: &state) }
            }
            return pending
        }
        guard let pending else {
            counters.datagramsRefused.add(1, ordering: .relaxed)
            return
        }
        counters.responsesReceived.add(1, ordering: .relaxed)
        pending.continuation.resume(returning: message)
    }

    /// BEP 42: once others report a public address for this node, it takes an ID derived from it.
    private func adopt(_ observed: DHTEndpoint, in state: inout State) {
        guard !state.boundToAddress, !observed.isLocal else { return }
        state.boundToAddress = true
        guard !NodeIDRules.isValid(state.ownID, for: observed) else { return }
        let id = NodeIDRules.randomNodeID(for: observed.address)
        state.ownID = id
        state.ipv4.changeOwnID(to: id)
        state.ipv6.changeOwnID(to: id)
        logger.info("DHT node ID bound to the public address (BEP 42)", metadata: ["address": "\(observed.host)", "id": "\(id)"])
    }

    private func answer(_ query: KRPCQuery, in message: KRPCMessage, from endpoint: DHTEndpoint, now: ContinuousClock.Instant) -> [UInt8]? {
        let body: KRPCMessage.Body? = state.withLock { state -> KRPCMessage.Body? in
            guard state.limiter.allows(endpoint.address, now: now) else { return nil }
            if !message.readOnly { state.heard(from: DHTNodeInfo(id: query.senderID, endpoint: endpoint), now: now) }
            var response = KRPCResponse(id: state.ownID)
            func addNodes(near target: NodeID, _ want: WantedFamilies) {
                let families = want.isEmpty ? (endpoint.isIPv6 ? WantedFamilies.ipv6 : .ipv4) : want
                if families.contains(.ipv4) { response.nodes = state.ipv4.closest(to: target, count: Self.k) }
                if families.contains(.ipv6) { response.nodes6 = state.ipv6.closest(to: target, count: Self.k) }
            }
            switch query {
            case .ping:
                break
            case .findNode(_, let target, let want):
                addNodes(near: target, want)
            case .getPeers(_, let infoHash, let want):
                response.token = state.tokens.token(for: endpoint.address, now: now)
                response.values = state.storage.peers(of: infoHash, ipv6: endpoint.isIPv6, now: now)
                addNodes(near: infoHash, want)
            case .announcePeer(_, let infoHash, let port, let token, let implied):
                guard state.tokens.isValid(token, for: endpoint.address, now: now) else {
                    return .error(code: KRPCMessage.ErrorCode.protocolError, message: "bad token")
                }
                let peerPort = implied ? endpoint.port : port
                guard peerPort != 0, let peer = DHTEndpoint(address: endpoint.address, port: peerPort) else {
                    return .error(code: KRPCMessage.ErrorCode.protocolError, message: "port 0")
                }
                state.storage.announce(peer, for: infoHash, now: now)
            case .get(_, let target, let seq, let want):
                response.token = state.tokens.token(for: endpoint.address, now: now)
                addNodes(near: target, want)
                if let item = state.storage.item(at: target, now: now) {
                    if let seq, let itemSeq = item.seq, itemSeq <= seq {
                        response.seq = itemSeq
                    } else {
                        response.value = item.value
                        response.key = item.key
                        response.signature = item.signature
                        response.seq = item.seq
                    }
                }
            case .put(_, let token, let arguments):
                guard state.tokens.isValid(token, for: endpoint.address, now: now) else {
                    return .error(code: KRPCMessage.ErrorCode.protocolError, message: "bad token")
                }
                do {
                    try state.storage.put(DHTItem(arguments), cas: arguments.cas, now: now)
                } catch let refusal as NodeStorage.PutRefusal {
                    switch refusal {
                    case .badSignature: return .error(code: KRPCMessage.ErrorCode.invalidSignature, message: "invalid signature")
                    case .sequenceNotNewer: return .error(code: KRPCMessage.ErrorCode.sequenceNotNewer, message: "sequence number less than current")
                    case .casMismatch: return .error(code: KRPCMessage.ErrorCode.casMismatch, message: "CAS mismatch")
                    case .full: return .error(code: KRPCMessage.ErrorCode.server, message: "storage full")
                    }
                } catch {
                    return .error(code: KRPCMessage.ErrorCode.server, message: "not stored")
                }
            case .unknown:
                return .error(code: KRPCMessage.ErrorCode.methodUnknown, message: "Method Unknown")
            }
            return .response(response)
        }
        guard let body else {
            counters.queriesRateLimited.add(1, ordering: .relaxed)
            return nil
        }
        counters.queriesAnswered.add(1, ordering: .relaxed)
        return KRPCMessage(transactionID: message.transactionID, body: body, clientVersion: Self.clientVersion, observedAddress: endpoint).encoded
    }

    // MARK: State on disk

    private func saveState() {
        guard let path = configuration.stateFile else { return }
        let (id, nodes) = state.withLock { ($0.ownID, $0.ipv4.allNodes + $0.ipv6.allNodes) }
        SavedState(id: id, nodes: nodes).save(to: path, logger: logger)
    }

    /// For tests and the hostile-input checks: how much the node remembers.
    public var memoryFootprint: DHTFootprint {
        state.withLock {
            DHTFootprint(
                routingTableNodes: $0.ipv4.count + $0.ipv6.count, pendingQueries: $0.pending.count, infoHashes: $0.storage.infoHashCount,
                items: $0.storage.itemCount, rateLimitedAddresses: $0.limiter.trackedAddresses)
        }
    }
}

public struct DHTFootprint: Sendable, Equatable {
    public let routingTableNodes: Int
    public let pendingQueries: Int
    public let infoHashes: Int
    public let items: Int
    public let rateLimitedAddresses: Int
}

/// Counts of what the node sent and received, for `peerdist status` and the benchmark.
public final class DHTCounters: Sendable {
    public let queriesSent = Atomic<Int>(0)
    public let responsesReceived = Atomic<Int>(0)
    public let queriesAnswered = Atomic<Int>(0)
    public let queriesRateLimited = Atomic<Int>(0)
    public let datagramsReceived = Atomic<Int>(0)
    /// Datagrams that were not KRPC, or answers to nothing asked.
    public let datagramsRefused = Atomic<Int>(0)
}

/// Reads datagrams off the socket and sends back what the node answers.
final class DHTChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let node: DHTNode

    init(node: DHTNode) {
        self.node = node
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let reply = node.receive(Array(buffer: envelope.data), from: envelope.remoteAddress) else { return }
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Non-fatal socket errors (an ICMP refusal for a datagram sent earlier) are UDP's lot.
    }
}

/// The node ID and routing table as kept in the data directory (JSON).
struct SavedState {
    var id: NodeID
    var nodes: [DHTNodeInfo]

    private struct File: Codable {
        var id: String
        var nodes: [String]
    }

    init(id: NodeID, nodes: [DHTNodeInfo]) {
        self.id = id
        self.nodes = nodes
    }

    static func load(from path: String) -> SavedState? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 1 << 20,
              let file = try? JSONDecoder().decode(File.self, from: data), let id = NodeID(hex: file.id)
        else { return nil }
        var nodes: [DHTNodeInfo] = []
        for entry in file.nodes.prefix(4096) {
            let parts = entry.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let nodeID = NodeID(hex: String(parts[0])), let address = try? SocketAddress(ipAddress: Self.host(parts[1]), port: Self.port(parts[1])),
                  let endpoint = DHTEndpoint(address)
            else { continue }
            nodes.append(DHTNodeInfo(id: nodeID, endpoint: endpoint))
        }
        return SavedState(id: id, nodes: nodes)
    }

    private static func host(_ text: Substring) -> String {
        guard let colon = text.lastIndex(of: ":") else { return "" }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return String(host)
    }

    private static func port(_ text: Substring) -> Int {
        text.lastIndex(of: ":").flatMap { Int(text[text.index(after: $0)...]) } ?? 0
    }

    func save(to path: String, logger: Logger) {
        let file = File(id: id.hex, nodes: nodes.map { "\($0.id.hex) \($0.endpoint)" })
        do {
            let data = try JSONEncoder().encode(file)
            let temporary = "\(path).new"
            try data.write(to: URL(fileURLWithPath: temporary))
            _ = rename(temporary, path)
        } catch {
            logger.warning("cannot save the DHT routing table", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}
