import Foundation
import PeerDistDHT
import PeerDistHashing

/// `peerdist dht …` and `peerdist names …` on the control socket: one JSON object under
/// `request`, whose `action` names what to do.
public struct DHTControlRequest: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable {
        /// The DHT node's ID, port, table size and message counts.
        case status
        /// A BEP 44 mutable item: `key` (hex public key) and `salt`.
        case get
        /// Puts `value` (text, as a byte string) under this node's key and `salt`.
        case put
        /// The peers announced for `key` (hex info-hash).
        case peers
        case register, resolve, list, unregister
    }

    public var action: Action
    public var key: String?
    public var salt: String?
    public var value: String?
    public var name: String?
    public var endpoints: [String]?
    /// Base64.
    public var payload: String?
    public var comment: String?
    public var scope: String?
    public var maximum: Int?
    /// Seconds a resolution may take.
    public var timeout: Double?

    public init(action: Action) {
        self.action = action
    }
}

public struct DHTReply: Codable, Sendable {
    public struct Item: Codable, Sendable {
        /// The value, bencoded, in hex; and as text when it is a byte string.
        public var bencoded: String
        public var text: String?
        public var seq: Int64?
        public var key: String?
        public var salt: String?
    }

    public struct Name: Codable, Sendable {
        public var name: String
        public var secured: Bool
        public var endpoints: [String]
        /// Base64.
        public var payload: String?
        public var comment: String?
        public var scope: String?
        public var source: String?
        public var seq: Int64?
    }

    public var nodeID: String?
    public var port: Int?
    public var ipv4Nodes: Int?
    public var ipv6Nodes: Int?
    public var queriesSent: Int?
    public var responsesReceived: Int?
    public var queriesAnswered: Int?
    public var queriesRateLimited: Int?
    public var datagramsRefused: Int?
    public var item: Item?
    public var peers: [String]?
    /// Queries the lookup (or the resolution) sent, and how long it took.
    public var queries: Int?
    public var milliseconds: Double?
    /// Nodes that took a put or announcement.
    public var stored: Int?
    public var names: [Name]?

    enum CodingKeys: String, CodingKey {
        case port, item, peers, queries, stored, names, milliseconds
        case nodeID = "node_id"
        case ipv4Nodes = "ipv4_nodes"
        case ipv6Nodes = "ipv6_nodes"
        case queriesSent = "queries_sent"
        case responsesReceived = "responses_received"
        case queriesAnswered = "queries_answered"
        case queriesRateLimited = "queries_rate_limited"
        case datagramsRefused = "datagrams_refused"
    }

    init() {}
}

extension PeerNode {
    func perform(_ request: DHTControlRequest) async throws -> DHTReply {
        let started = ContinuousClock.now
        let sentBefore = dht?.counters.queriesSent.load(ordering: .relaxed) ?? 0
        var reply = try await performTimed(request)
        let elapsed = ContinuousClock.now - started
        reply.milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        // A resolution's queries: what the DHT node sent meanwhile (a lookup reports its own).
        if request.action == .resolve, let dht { reply.queries = dht.counters.queriesSent.load(ordering: .relaxed) - sentBefore }
        return reply
    }

    private func performTimed(_ request: DHTControlRequest) async throws -> DHTReply {
        var reply = DHTReply()
        switch request.action {
        case .register:
            guard let text = request.name else { throw NodeError(.invalidState, "names register needs a name") }
            let endpoints = try (request.endpoints ?? []).map { text in
                guard let address = PeerAddress(parsing: text) else { throw NodeError(.invalidState, "'\(text)' is not an endpoint; use [address]:port") }
                return address
            }
            guard let payload = request.payload.map({ Data(base64Encoded: $0) }) ?? Data() else { throw NodeError(.invalidState, "the payload is not base64") }
            let registered = try await registerName(
                text, endpoints: endpoints, payload: Array(payload), comment: request.comment ?? "", scope: request.scope ?? "all")
            reply.names = [name(registered.name)]
            reply.stored = registered.stored
            return reply
        case .unregister:
            guard let text = request.name else { throw NodeError(.invalidState, "names unregister needs a name") }
            reply.names = [DHTReply.Name(name: try unregisterName(text).description, secured: true, endpoints: [])]
            return reply
        case .list:
            reply.names = registeredNames()
            return reply
        case .resolve:
            guard let text = request.name else { throw NodeError(.invalidState, "names resolve needs a name") }
            let name = try PeerName(parsing: text)
            let maximum = request.maximum ?? 16
            var found: [DHTReply.Name] = []
            // This node's own registration answers at once.
            if let own = names.registration(name) {
                found.append(self.name(name, record: NameRecord(endpoints: own.fixedEndpoints ?? currentEndpoints(), payload: own.payload, comment: own.comment), source: "local"))
            }
            if request.scope != "global" {
                for resolved in await resolveNameOnTheLink(name) {
                    var entry = self.name(name, record: resolved.record, source: resolved.source)
                    entry.secured = resolved.secured
                    found.append(entry)
                }
            }
            if request.scope != "link", found.count < maximum {
                let deadline = Duration.milliseconds(Int((request.timeout ?? 10) * 1000))
                let global = await withTaskGroup(of: [ResolvedName]?.self) { group in
                    group.addTask { await self.resolveNameGlobally(name, maximum: maximum) }
                    group.addTask {
                        try? await Task.sleep(for: deadline)
                        return nil
                    }
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first ?? []
                }
                for resolved in global {
                    var entry = self.name(name, record: resolved.record, source: resolved.source)
                    entry.secured = resolved.secured
                    entry.seq = resolved.sequence
                    found.append(entry)
                }
            }
            // One instance once, however many ways it was found.
            var unique: [DHTReply.Name] = []
            for entry in found where !unique.contains(where: { $0.endpoints == entry.endpoints && $0.secured == entry.secured && $0.comment == entry.comment }) {
                unique.append(entry)
            }
            reply.names = Array(unique.prefix(maximum))
            return reply
        default:
            break
        }
        guard let dht else { throw NodeError(.invalidState, "this node is not on the DHT; start it with `peerdist serve --global`") }
        switch request.action {
        case .status:
            reply.nodeID = dht.nodeID.hex
            reply.port = dht.boundPort
            let size = dht.routingTableSize
            reply.ipv4Nodes = size.ipv4
            reply.ipv6Nodes = size.ipv6
            reply.queriesSent = dht.counters.queriesSent.load(ordering: .relaxed)
            reply.responsesReceived = dht.counters.responsesReceived.load(ordering: .relaxed)
            reply.queriesAnswered = dht.counters.queriesAnswered.load(ordering: .relaxed)
            reply.queriesRateLimited = dht.counters.queriesRateLimited.load(ordering: .relaxed)
            reply.datagramsRefused = dht.counters.datagramsRefused.load(ordering: .relaxed)
        case .get:
            guard let key = request.key.flatMap(Hex.decode), key.count == 32 else { throw NodeError(.invalidState, "dht get needs a 64-hex-digit public key") }
            let salt = Array((request.salt ?? "").utf8)
            let found = await dht.getMutable(key: key, salt: salt)
            reply.queries = found.queries
            if let item = found.item { reply.item = Self.itemReply(item) }
        case .put:
            let value = Bencode.string(request.value ?? "")
            let salt = Array((request.salt ?? "").utf8)
            do {
                let put = try await dht.putMutable(value: value, key: identity.publicKey.bytes, salt: salt, minimumSeq: Self.sequenceNow()) { identity.sign($0) }
                reply.item = Self.itemReply(put.item)
                reply.stored = put.stored
            } catch {
                throw NodeError(.invalidState, "\(error)")
            }
        case .peers:
            guard let bytes = request.key.flatMap(Hex.decode), let infoHash = NodeID(bytes) else {
                throw NodeError(.invalidState, "dht peers needs a 40-hex-digit info-hash")
            }
            let found = await dht.findPeers(of: infoHash)
            reply.peers = found.peers.map(\.description)
            reply.queries = found.queries
        default:
            break
        }
        return reply
    }

    static func itemReply(_ item: DHTItem) -> DHTReply.Item {
        DHTReply.Item(
            bencoded: Hex.encode(item.value.encoded), text: item.value.bytesValue.map { String(decoding: $0, as: UTF8.self) }, seq: item.seq,
            key: item.key.map(Hex.encode), salt: String(decoding: item.salt, as: UTF8.self))
    }

    /// The names this node registered, as `names ls` lists them.
    public func registeredNames() -> [DHTReply.Name] {
        names.all.map { name($0.name) }
    }

    private func name(_ name: PeerName, record: NameRecord? = nil, source: String? = nil) -> DHTReply.Name {
        let registration = names.registration(name)
        let record = record ?? registration.map { NameRecord(endpoints: $0.fixedEndpoints ?? currentEndpoints(), payload: $0.payload, comment: $0.comment) }
        return DHTReply.Name(
            name: name.description, secured: name.isSecured, endpoints: record?.endpoints.map(\.description) ?? [],
            payload: record.flatMap { $0.payload.isEmpty ? nil : Data($0.payload).base64EncodedString() },
            comment: record.flatMap { $0.comment.isEmpty ? nil : $0.comment }, scope: source == nil ? registration?.scope.rawValue : nil, source: source)
    }
}
