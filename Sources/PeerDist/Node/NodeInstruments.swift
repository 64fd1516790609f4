import Metrics

/// Events the node counts through swift-metrics, for whatever backend the process bootstraps
/// (`peerdist serve --metrics` exports them to Prometheus; without one they cost a no-op call).
///
/// Only events that happen a few times a second at most are counted here: discovery datagrams
/// and whole transfers. Per-block totals stay in `NodeCounters`, read once per scrape, so the
/// paths that move blocks take no extra lock.
///
/// The instruments are made on first use, which in `serve` is after the backend is bootstrapped.
public enum NodeInstruments {
    /// LAN queries ("who has") this node multicast, and holders' answers it received.
    static let discoveryQueriesSent = Counter(label: "peerdist_discovery_queries_sent_total")
    static let discoveryAnswersReceived = Counter(label: "peerdist_discovery_answers_received_total")
    /// Other nodes' queries heard on the LAN, and the answers this node sent them.
    static let discoveryQueriesReceived = Counter(label: "peerdist_discovery_queries_received_total")
    static let discoveryAnswersSent = Counter(label: "peerdist_discovery_answers_sent_total")

    /// BranchCache (MS-PCCRD) probes heard from clients on the link, and the answers sent.
    static let branchCacheProbesReceived = Counter(label: "peerdist_branchcache_probes_received_total")
    static let branchCacheProbesAnswered = Counter(label: "peerdist_branchcache_probes_answered_total")

    /// Fetches of content by ID the node ran, by how they ended, and how long they took.
    static let transfersCompleted = Counter(label: "peerdist_transfers_total", dimensions: [("result", "complete")])
    static let transfersFailed = Counter(label: "peerdist_transfers_total", dimensions: [("result", "failed")])
    static let transferDuration = Timer(label: transferDurationLabel, preferredDisplayUnit: .seconds)

    /// The transfer-duration histogram's name, for a backend that sets its buckets.
    public static let transferDurationLabel = "peerdist_transfer_duration_seconds"
}
