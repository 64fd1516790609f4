import Crypto

/// What other nodes asked this one to keep: peers announced for info-hashes (BEP 5) and BEP 44
/// items. Both are bounded in count and expire, so a flood of announces or puts cannot grow
/// the node's memory past a fixed size.
struct NodeStorage {
    static let maximumInfoHashes = 2000
    static let maximumPeersPerInfoHash = 100
    static let maximumItems = 2000
    /// BEP 5 suggests peers stay for 30 minutes; BEP 44 items for 2 hours.
    static let peerLifetime: Duration = .seconds(30 * 60)
    static let itemLifetime: Duration = .seconds(2 * 60 * 60)

    private var peers: [NodeID: [DHTEndpoint: ContinuousClock.Instant]] = [:]
    private var items: [NodeID: (item: DHTItem, stored: ContinuousClock.Instant)] = [:]

    var infoHashCount: Int { peers.count }
    var itemCount: Int { items.count }

    mutating func announce(_ peer: DHTEndpoint, for infoHash: NodeID, now: ContinuousClock.Instant) {
        if peers[infoHash] == nil, peers.count >= Self.maximumInfoHashes {
            expire(now: now)
            guard peers.count < Self.maximumInfoHashes else { return }
        }
        var list = peers[infoHash] ?? [:]
        if list[peer] == nil, list.count >= Self.maximumPeersPerInfoHash, let oldest = list.min(by: { $0.value < $1.value })?.key {
            list.removeValue(forKey: oldest)
        }
        list[peer] = now
        peers[infoHash] = list
    }

    /// Up to `limit` live peers of `infoHash` in `family` (IPv6 or not), in no particular order.
    func peers(of infoHash: NodeID, ipv6: Bool, limit: Int = 50, now: ContinuousClock.Instant) -> [DHTEndpoint] {
        guard let list = peers[infoHash] else { return [] }
        return list.filter { $0.key.isIPv6 == ipv6 && now - $0.value < Self.peerLifetime }.map(\.key).shuffled().prefix(limit).map { $0 }
    }

    func item(at target: NodeID, now: ContinuousClock.Instant) -> DHTItem? {
        guard let stored = items[target], now - stored.stored < Self.itemLifetime else { return nil }
        return stored.item
    }

    enum PutRefusal: Error, Equatable {
        case badSignature, sequenceNotNewer, casMismatch, full
    }

    /// Keeps `item` if its signature holds and its sequence number is not older than the one
    /// kept (BEP 44); `cas`, when given, must be the kept item's sequence number.
    mutating func put(_ item: DHTItem, cas: Int64?, now: ContinuousClock.Instant) throws(PutRefusal) {
        guard item.hasValidSignature else { throw .badSignature }
        let target = item.target
        if let kept = self.item(at: target, now: now), let keptSeq = kept.seq, let seq = item.seq {
            if let cas, cas != keptSeq { throw .casMismatch }
            guard seq >= keptSeq else { throw .sequenceNotNewer }
            if seq == keptSeq, kept.value != item.value { throw .sequenceNotNewer }
        }
        if items[target] == nil, items.count >= Self.maximumItems {
            expire(now: now)
            guard items.count < Self.maximumItems else { throw .full }
        }
        items[target] = (item, now)
    }

    mutating func expire(now: ContinuousClock.Instant) {
        for (infoHash, list) in peers {
            let live = list.filter { now - $0.value < Self.peerLifetime }
            peers[infoHash] = live.isEmpty ? nil : live
        }
        items = items.filter { now - $0.value.stored < Self.itemLifetime }
    }
}

/// Write tokens (BEP 5): a `get_peers` or `get` answer carries a token bound to the asker's
/// address, which its `announce_peer` or `put` must return. The secret rotates every five
/// minutes and the previous one is still accepted, so a token lives 5 to 10 minutes.
struct WriteTokens {
    static let rotation: Duration = .seconds(300)
    private var secret = SymmetricKey(size: .bits256)
    private var previous = SymmetricKey(size: .bits256)
    private var rotated: ContinuousClock.Instant

    init(now: ContinuousClock.Instant) {
        rotated = now
    }

    mutating func token(for address: [UInt8], now: ContinuousClock.Instant) -> [UInt8] {
        rotate(now: now)
        return Self.token(address, secret)
    }

    mutating func isValid(_ token: [UInt8], for address: [UInt8], now: ContinuousClock.Instant) -> Bool {
        rotate(now: now)
        return token == Self.token(address, secret) || token == Self.token(address, previous)
    }

    private mutating func rotate(now: ContinuousClock.Instant) {
        guard now - rotated >= Self.rotation else { return }
        previous = now - rotated >= Self.rotation * 2 ? SymmetricKey(size: .bits256) : secret
        secret = SymmetricKey(size: .bits256)
        rotated = now
    }

    private static func token(_ address: [UInt8], _ key: SymmetricKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: address, using: key).prefix(8))
    }
}

/// Queries taken from each address: a token bucket per address, in a table of bounded size, so
/// one address cannot make the node work without limit and many cannot make it remember much.
struct AddressRateLimiter {
    var queriesPerSecond: Double = 50
    var burst: Double = 100
    var maximumAddresses = 4096
    private var buckets: [[UInt8]: (tokens: Double, updated: ContinuousClock.Instant)] = [:]

    var trackedAddresses: Int { buckets.count }

    mutating func allows(_ address: [UInt8], now: ContinuousClock.Instant) -> Bool {
        if buckets[address] == nil, buckets.count >= maximumAddresses {
            // Forget addresses whose buckets have refilled: they owe nothing.
            let refill = Duration.seconds(burst / queriesPerSecond)
            buckets = buckets.filter { now - $0.value.updated < refill }
            guard buckets.count < maximumAddresses else { return false }
        }
        var bucket = buckets[address] ?? (burst, now)
        let elapsed = now - bucket.updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(burst, bucket.tokens + seconds * queriesPerSecond)
        bucket.updated = now
        guard bucket.tokens >= 1 else {
            buckets[address] = bucket
            return false
        }
        bucket.tokens -= 1
        buckets[address] = bucket
        return true
    }
}
