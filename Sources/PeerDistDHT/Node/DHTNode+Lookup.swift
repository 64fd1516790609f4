/// Iterative lookups (BEP 5): query the closest known nodes, `parallelism` at a time, learn
/// closer ones from their answers, and stop when the `k` closest that answered have all been
/// asked. `get_peers` gathers peers and write tokens, `get` (BEP 44) the newest valid item.
extension DHTNode {
    public enum LookupKind: Sendable {
        case findNode
        case getPeers
        /// A BEP 44 item: mutable when `key` is given (checked against it and `salt`).
        case get(key: [UInt8]?, salt: [UInt8])
    }

    public struct LookupResult: Sendable {
        /// The closest nodes that answered, closest first, with the write token each gave.
        public var closest: [(node: DHTNodeInfo, token: [UInt8]?)] = []
        /// `get_peers`: the peers found, in the order heard.
        public var peers: [DHTEndpoint] = []
        /// `get`: the item with the highest sequence number whose signature holds.
        public var item: DHTItem?
        /// Queries sent and answers received.
        public var queries = 0
        public var answers = 0
    }

    /// At most this many queries per lookup: a lookup in a hostile or huge table still ends.
    static let maximumQueriesPerLookup = 96

    private enum Status { case waiting, asked, answered, failed }

    private struct Candidate {
        let node: DHTNodeInfo
        var status: Status = .waiting
        var token: [UInt8]?
    }

    public func lookup(_ target: NodeID, kind: LookupKind) async -> LookupResult {
        var result = LookupResult()
        var candidates: [DHTEndpoint: Candidate] = [:]
        let own = nodeID
        for node in state.withLock({ $0.ipv4.closest(to: target, count: Self.k * 2) + $0.ipv6.closest(to: target, count: Self.k * 2) }) {
            candidates[node.endpoint] = Candidate(node: node)
        }
        let want = wantedFamilies
        let query: KRPCQuery
        switch kind {
        case .findNode: query = .findNode(id: own, target: target, want: want)
        case .getPeers: query = .getPeers(id: own, infoHash: target, want: want)
        case .get: query = .get(id: own, target: target, seq: nil, want: want)
        }

        /// The next node to ask: the closest not yet asked among the `k` closest still in play.
        func next() -> DHTEndpoint? {
            let live = candidates.values.filter { $0.status != .failed }.sorted { target.isCloser($0.node.id, than: $1.node.id) }
            return live.prefix(Self.k).first { $0.status == .waiting }?.node.endpoint
        }

        await withTaskGroup(of: (DHTEndpoint, KRPCMessage?).self) { group in
            var inFlight = 0
            while true {
                while inFlight < configuration.parallelism, result.queries < Self.maximumQueriesPerLookup, let endpoint = next() {
                    candidates[endpoint]?.status = .asked
                    inFlight += 1
                    result.queries += 1
                    group.addTask { (endpoint, await self.query(query, to: endpoint)) }
                }
                guard inFlight > 0, let (endpoint, answer) = await group.next() else { break }
                inFlight -= 1
                guard case .response(let response)? = answer?.body else {
                    candidates[endpoint]?.status = .failed
                    continue
                }
                result.answers += 1
                candidates[endpoint]?.status = .answered
                candidates[endpoint]?.token = response.token
                for node in response.nodes + response.nodes6 where candidates[node.endpoint] == nil && node.id != own {
                    // A node may tell of many; only as many as a table holds are kept.
                    guard candidates.count < 1024 else { break }
                    candidates[node.endpoint] = Candidate(node: node)
                }
                for peer in response.values where !result.peers.contains(peer) && result.peers.count < 512 {
                    result.peers.append(peer)
                }
                if case .get(let key, let salt) = kind, let value = response.value {
                    let item = DHTItem(value: value, key: response.key, signature: response.signature, seq: response.seq, salt: key == nil ? [] : salt)
                    // The item must be the one asked for: its target, and a signature that holds.
                    if item.target == target, item.key == key, item.hasValidSignature, (item.seq ?? 0) >= (result.item?.seq ?? Int64.min) {
                        result.item = item
                    }
                }
            }
            group.cancelAll()
        }
        result.closest = candidates.values.filter { $0.status == .answered }
            .sorted { target.isCloser($0.node.id, than: $1.node.id) }
            .prefix(Self.k).map { ($0.node, $0.token) }
        return result
    }

    // MARK: What a lookup is for

    /// The peers announced for `infoHash`, and the lookup's message count.
    public func findPeers(of infoHash: NodeID) async -> LookupResult {
        await lookup(infoHash, kind: .getPeers)
    }

    /// Announces this node as a peer of `infoHash` on `port` to the closest nodes (BEP 5);
    /// returns how many accepted.
    @discardableResult
    public func announce(_ infoHash: NodeID, port: UInt16) async -> Int {
        let found = await lookup(infoHash, kind: .getPeers)
        let own = nodeID
        return await sendToClosest(found) { token in .announcePeer(id: own, infoHash: infoHash, port: port, token: token, impliedPort: false) }
    }

    /// The newest mutable item under `key` and `salt` (BEP 44), its signature checked.
    public func getMutable(key: [UInt8], salt: [UInt8]) async -> LookupResult {
        await lookup(DHTItem.mutableTarget(key: key, salt: salt), kind: .get(key: key, salt: salt))
    }

    /// Stores `value` as the mutable item of `key` and `salt`, signed by `sign`, with a sequence
    /// number above any found on the DHT and at least `minimumSeq`; returns the item and how many
    /// nodes took it.
    public func putMutable(
        value: Bencode, key: [UInt8], salt: [UInt8], minimumSeq: Int64 = 0, sign: ([UInt8]) -> [UInt8]
    ) async throws(DHTError) -> (item: DHTItem, stored: Int) {
        guard value.encoded.count <= KRPCMessage.maximumValueLength else {
            throw DHTError("the value is \(value.encoded.count) bytes bencoded; BEP 44 allows \(KRPCMessage.maximumValueLength)")
        }
        guard salt.count <= KRPCMessage.maximumSaltLength else { throw DHTError("the salt is \(salt.count) bytes; BEP 44 allows \(KRPCMessage.maximumSaltLength)") }
        let found = await getMutable(key: key, salt: salt)
        var seq = max(minimumSeq, 1)
        if let current = found.item?.seq { seq = max(seq, current + 1) }
        let item = DHTItem.signed(value: value, seq: seq, salt: salt, key: key, sign: sign)
        let own = nodeID
        let stored = await sendToClosest(found) { token in .put(id: own, token: token, item: item.putArguments) }
        return (item, stored)
    }

    /// Sends the query `make` builds from each of the closest nodes' tokens; counts the answers.
    private func sendToClosest(_ found: LookupResult, _ make: @escaping @Sendable ([UInt8]) -> KRPCQuery) async -> Int {
        await withTaskGroup(of: Bool.self) { group in
            for (node, token) in found.closest {
                guard let token else { continue }
                group.addTask {
                    if case .response? = await self.query(make(token), to: node.endpoint)?.body { return true }
                    return false
                }
            }
            var accepted = 0
            for await ok in group where ok { accepted += 1 }
            return accepted
        }
    }
}

/// A DHT operation that could not be done, and why.
public struct DHTError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
