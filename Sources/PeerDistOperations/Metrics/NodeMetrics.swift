import CoreMetrics
import PeerDist
import PeerDistCollaboration
import PeerDistDHT
import PeerDistHashing
import PeerDistStore
import Prometheus
import Synchronization

/// A node's metrics in the Prometheus text format, for `serve --metrics`.
///
/// Two sources feed one registry. Events the node counts as they happen (discovery datagrams,
/// transfers and their durations: see `NodeInstruments`) arrive through swift-metrics, once
/// `bootstrap` has made this registry its backend. Totals the node already keeps (bytes and
/// blocks in `NodeCounters`, the store's entries, the mirrors' states, the peers heard) are read
/// when a scrape asks for them, so the paths that move blocks take no extra lock for metrics.
public final class NodeMetrics: Sendable {
    /// Bucket bounds of the transfer-duration histogram: a small file on a LAN up to a large one
    /// on a slow link.
    public static let transferDurationBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
    ]

    public let registry: PrometheusCollectorRegistry
    private let node: PeerNode
    private let totals: [(name: String, help: String, read: @Sendable (NodeCounters.Snapshot) -> UInt64, counter: Prometheus.Counter)]
    /// The Mainline DHT node's message counts, for a node that runs one (`serve --global`).
    private let dhtTotals: [(name: String, read: @Sendable (DHTCounters) -> Int, counter: Prometheus.Counter)]
    /// The counter values last exported, so each scrape adds only what the node counted since.
    private let exported = PThreadMutex<[String: UInt64]>([:])
    private let gauges: Gauges

    /// Makes `registry` the process's swift-metrics backend. Call once, before the node runs.
    public static func bootstrap(_ registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[NodeInstruments.transferDurationLabel] = transferDurationBuckets
        MetricsSystem.bootstrap(factory)
    }

    public init(node: PeerNode, registry: PrometheusCollectorRegistry) {
        self.node = node
        self.registry = registry
        let definitions: [(String, String, @Sendable (NodeCounters.Snapshot) -> UInt64)] = [
            ("peerdist_block_bytes_received_total", "Block bytes received from peers, rejected ones included.", { $0.blockBytesReceived }),
            ("peerdist_block_bytes_sent_total", "Block bytes sent to peers.", { $0.blockBytesSent }),
            ("peerdist_blocks_verified_total", "Blocks received that passed verification.", { $0.blocksReceived }),
            ("peerdist_blocks_rejected_total", "Blocks received that failed verification and were thrown away.", { $0.blocksRejected }),
            ("peerdist_blocks_duplicated_total", "Blocks that arrived after another peer's copy.", { $0.blocksDuplicated }),
            ("peerdist_blocks_sent_total", "Blocks sent to peers.", { $0.blocksSent }),
            ("peerdist_connections_accepted_total", "Peer connections accepted.", { $0.connectionsAccepted }),
            ("peerdist_connections_dropped_total", "Peer connections refused or dropped.", { $0.connectionsDropped }),
            ("peerdist_mirror_chunks_received_total", "Mirror chunks received.", { $0.chunksReceived }),
            ("peerdist_mirror_chunk_bytes_received_total", "Mirror chunk bytes received (uncompressed).", { $0.chunkBytesReceived }),
            ("peerdist_mirror_chunks_sent_total", "Mirror chunks sent.", { $0.chunksSent }),
            ("peerdist_mirror_chunk_bytes_sent_total", "Mirror chunk bytes sent (uncompressed).", { $0.chunkBytesSent }),
            ("peerdist_mirror_chunks_rejected_total", "Mirror chunks that did not match their hash.", { $0.chunksRejected }),
            ("peerdist_mirror_manifest_bytes_received_total", "Mirror manifest bytes received.", { $0.manifestBytesReceived }),
        ]
        totals = definitions.map { name, help, read in
            (name, help, read, registry.makeCounter(descriptor: .named(name, help: help)))
        }
        let dhtDefinitions: [(String, String, @Sendable (DHTCounters) -> Int)] = [
            ("peerdist_dht_queries_sent_total", "KRPC queries the DHT node sent.", { $0.queriesSent.load(ordering: .relaxed) }),
            ("peerdist_dht_responses_received_total", "KRPC responses the DHT node received to its queries.", { $0.responsesReceived.load(ordering: .relaxed) }),
            ("peerdist_dht_queries_answered_total", "KRPC queries from other DHT nodes answered.", { $0.queriesAnswered.load(ordering: .relaxed) }),
            ("peerdist_dht_queries_rate_limited_total", "KRPC queries dropped by the per-address rate limit.", { $0.queriesRateLimited.load(ordering: .relaxed) }),
            ("peerdist_dht_datagrams_refused_total", "Datagrams on the DHT port that were not KRPC, or answered nothing asked.", { $0.datagramsRefused.load(ordering: .relaxed) }),
        ]
        dhtTotals = node.dht == nil ? [] : dhtDefinitions.map { name, help, read in (name, read, registry.makeCounter(descriptor: .named(name, help: help))) }
        gauges = Gauges(registry: registry)
    }

    /// The registry's text, with the node's totals and states read now.
    public func exposition() async -> [UInt8] {
        refresh()
        // People watched, and how many of them are reachable and not offline.
        if let presence = (try? await node.people(.presence))?.presence {
            let others = presence.filter { !$0.isMe }
            gauges.contactsWatched.set(to: Double(others.count))
            gauges.contactsOnline.set(to: Double(others.filter { $0.status != .offline }.count))
        }
        return registry.emitToBuffer()
    }

    private func refresh() {
        let snapshot = node.counters.snapshot
        exported.withLock { exported in
            for total in totals {
                let value = total.read(snapshot)
                let added = value - min(value, exported[total.name] ?? 0)
                if added > 0 { total.counter.increment(by: Int64(clamping: added)) }
                exported[total.name] = value
            }
            if let counters = node.dht?.counters {
                for total in dhtTotals {
                    let value = UInt64(max(0, total.read(counters)))
                    let added = value - min(value, exported[total.name] ?? 0)
                    if added > 0 { total.counter.increment(by: Int64(clamping: added)) }
                    exported[total.name] = value
                }
            }
        }
        gauges.refresh(from: node)
    }
}

/// The gauges read off the node at each scrape.
private final class Gauges: Sendable {
    let peersSeen: Prometheus.Gauge
    let transfersActive: Prometheus.Gauge
    let publishedBytes: Prometheus.Gauge
    let cachedBytes: Prometheus.Gauge
    let quotaBytes: Prometheus.Gauge
    let storeEntries: Prometheus.Gauge
    let contactsWatched: Prometheus.Gauge
    let contactsOnline: Prometheus.Gauge
    let registry: PrometheusCollectorRegistry
    /// Gauges with labels (one per mirror and measure, per DHT address family), made when first set.
    let mirrorGauges = PThreadMutex<[String: Prometheus.Gauge]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        peersSeen = registry.makeGauge(descriptor: .named("peerdist_peers_seen", help: "Nodes heard on the LAN and not yet gone."))
        transfersActive = registry.makeGauge(descriptor: .named("peerdist_transfers_active", help: "Fetches under way."))
        publishedBytes = registry.makeGauge(descriptor: .named("peerdist_store_published_bytes", help: "Bytes of the files published in place."))
        cachedBytes = registry.makeGauge(descriptor: .named("peerdist_store_cached_bytes", help: "Bytes of verified blocks held in the cache."))
        quotaBytes = registry.makeGauge(descriptor: .named("peerdist_store_quota_bytes", help: "The cache quota in bytes; 0 for none."))
        storeEntries = registry.makeGauge(descriptor: .named("peerdist_store_entries", help: "Contents the store holds, published and cached."))
        contactsWatched = registry.makeGauge(descriptor: .named("peerdist_contacts_watched", help: "Contacts whose presence this node watches."))
        contactsOnline = registry.makeGauge(descriptor: .named("peerdist_contacts_online", help: "Watched contacts reachable and not offline."))
    }

    func refresh(from node: PeerNode) {
        peersSeen.set(to: Double(node.peerDirectory.all.count))
        transfersActive.set(to: Double(node.transferStatuses().count))
        let entries = node.store.entries()
        publishedBytes.set(to: Double(entries.filter { $0.kind == .published }.reduce(0) { $0 + $1.heldBytes }))
        cachedBytes.set(to: Double(entries.filter { $0.kind == .cached }.reduce(0) { $0 + $1.heldBytes }))
        quotaBytes.set(to: Double(node.store.quotaBytes ?? 0))
        storeEntries.set(to: Double(entries.count))
        if let dht = node.dht {
            let size = dht.routingTableSize
            let help = "Nodes in the DHT routing table, by address family."
            gauge("peerdist_dht_nodes", [("family", "ipv4")], help: help).set(to: Double(size.ipv4))
            gauge("peerdist_dht_nodes", [("family", "ipv6")], help: help).set(to: Double(size.ipv6))
        }
        for mirror in node.mirrors.statuses() {
            let labels = [("mirror", mirror.name), ("role", mirror.role.rawValue)]
            gauge("peerdist_mirror_version", labels, help: "The version a mirror's directory holds.").set(to: Double(mirror.version))
            gauge("peerdist_mirror_pending_bytes", labels, help: "Chunk bytes a followed mirror still lacks for its newest version.")
                .set(to: Double(mirror.pendingBytes))
            gauge("peerdist_mirror_bytes", labels, help: "Bytes of a mirror's files.").set(to: Double(mirror.bytes))
            gauge("peerdist_mirror_peers", labels, help: "Peers last seen holding a mirror.").set(to: Double(mirror.peers))
        }
    }

    private func gauge(_ name: String, _ labels: [(String, String)], help: String) -> Prometheus.Gauge {
        let key = ([name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "\u{0}")
        return mirrorGauges.withLock { gauges in
            if let found = gauges[key] { return found }
            let made = registry.makeGauge(descriptor: .named(name, help: help), labels: labels)
            gauges[key] = made
            return made
        }
    }
}

extension MetricNameDescriptor {
    /// A metric named in full, as the exposition shows it (`peerdist_blocks_sent_total`): the
    /// names here carry their unit already, so the descriptor's unit stays empty.
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
