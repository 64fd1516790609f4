/// One address family's k-buckets (BEP 5): the nodes a DHT node knows, at most `bucketSize` per
/// distance band, so the table is bounded (160 × 8 nodes) and dense near the node's own ID.
///
/// Bucket `i` holds nodes whose IDs share exactly `i` leading bits with the node's own. A full
/// bucket takes a newcomer only in place of a node that stopped answering: long-lived nodes are
/// kept, as BEP 5 recommends, which also makes flooding a table with fresh IDs useless.
struct RoutingTable {
    static let bucketSize = 8
    /// Unanswered queries in a row after which a node is replaced by the next one heard.
    static let failureLimit = 2

    struct Entry {
        var node: DHTNodeInfo
        var lastSeen: ContinuousClock.Instant
        var failures = 0
    }

    private(set) var ownID: NodeID
    private var buckets: [[Entry]] = Array(repeating: [], count: NodeID.byteCount * 8)

    init(ownID: NodeID) {
        self.ownID = ownID
    }

    var count: Int { buckets.reduce(0) { $0 + $1.count } }
    var allNodes: [DHTNodeInfo] { buckets.flatMap { $0.map(\.node) } }

    /// A node with a new ID: the nodes are filed again by their distance to it.
    mutating func changeOwnID(to id: NodeID) {
        let nodes = buckets.flatMap { $0 }
        ownID = id
        buckets = Array(repeating: [], count: NodeID.byteCount * 8)
        for entry in nodes { _ = insert(entry.node, at: entry.lastSeen) }
    }

    private func bucketIndex(_ id: NodeID) -> Int? {
        let shared = ownID.commonPrefixLength(with: id)
        return shared < buckets.count ? shared : nil
    }

    /// Records that `node` was heard from; returns whether it is in the table.
    @discardableResult
    mutating func insert(_ node: DHTNodeInfo, at now: ContinuousClock.Instant) -> Bool {
        guard let index = bucketIndex(node.id) else { return false }
        if let position = buckets[index].firstIndex(where: { $0.node.id == node.id }) {
            // A known ID from another address is not taken: it could be someone else's claim.
            guard buckets[index][position].node.endpoint == node.endpoint else { return true }
            buckets[index][position].lastSeen = now
            buckets[index][position].failures = 0
            return true
        }
        // One entry per endpoint: a node that changed ID replaces its old self.
        remove(endpoint: node.endpoint)
        if buckets[index].count < Self.bucketSize {
            buckets[index].append(Entry(node: node, lastSeen: now))
            return true
        }
        if let stale = buckets[index].firstIndex(where: { $0.failures >= Self.failureLimit }) {
            buckets[index][stale] = Entry(node: node, lastSeen: now)
            return true
        }
        return false
    }

    mutating func recordFailure(of endpoint: DHTEndpoint) {
        for index in buckets.indices {
            if let position = buckets[index].firstIndex(where: { $0.node.endpoint == endpoint }) {
                buckets[index][position].failures += 1
                return
            }
        }
    }

    mutating func remove(endpoint: DHTEndpoint) {
        for index in buckets.indices { buckets[index].removeAll { $0.node.endpoint == endpoint } }
    }

    /// The `count` known nodes closest to `target`, answering ones first among equals.
    func closest(to target: NodeID, count: Int) -> [DHTNodeInfo] {
        buckets.lazy.flatMap { $0 }.filter { $0.failures < Self.failureLimit }.map(\.node)
            .sorted { target.isCloser($0.id, than: $1.id) }
            .prefix(count).map { $0 }
    }

    /// Nodes not heard from in `age`, for the refresh to ping.
    func questionable(olderThan age: Duration, now: ContinuousClock.Instant) -> [DHTNodeInfo] {
        buckets.flatMap { $0 }.filter { now - $0.lastSeen > age }.map(\.node)
    }
}
