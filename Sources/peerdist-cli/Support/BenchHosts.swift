import Foundation

/// Hosts for a benchmark: network namespaces on one bridge, each joined by a veth pair and given
/// a fixed link-local address (`fe80::1`, `fe80::2`, …), and on request an IPv4 address
/// (`10.77.0.1`, …) for baselines that need one. Deleted again by `tearDown`, and on the way
/// out of any command that made them.
final class BenchHosts {
    struct Host {
        let namespace: String
        /// The host's interface inside its namespace.
        let interface: String
        let address: String
        let ipv4Address: String?
    }

    let hosts: [Host]
    private let bridge: String
    private let bridgeNamespace: String

    /// - Parameters:
    ///   - rate: with a value, every host's link is shaped to it (`tc tbf`), e.g. "1gbit", in
    ///     both directions: on the host's end of its veth pair (what it sends) and on the bridge's
    ///     end (what it receives). A switched link limits both ways; shaping only what each host
    ///     sends would let one host receive from several senders at once at a multiple of the rate.
    ///   - ipv4: also give each host `10.77.0.N/24`.
    init(count: Int, rate: String? = nil, ipv4: Bool = false) throws {
        guard getuid() == 0 else { throw CommandFailure("benchmarks between hosts need root: they create network namespaces") }
        let tag = String(UInt32.random(in: 0...UInt32.max) % 1_000_000, radix: 36)
        bridgeNamespace = "pdb-\(tag)-br"
        bridge = "pdbr\(tag)"
        hosts = (0..<count).map {
            Host(namespace: "pdb-\(tag)-\($0)", interface: "pdh\(tag)x\($0)", address: "fe80::\($0 + 1)", ipv4Address: ipv4 ? "10.77.0.\($0 + 1)" : nil)
        }
        do {
            try Self.ip("netns", "add", bridgeNamespace)
            try Self.ip("-n", bridgeNamespace, "link", "add", bridge, "type", "bridge")
            try Self.ip("-n", bridgeNamespace, "link", "set", bridge, "up")
            for (index, host) in hosts.enumerated() {
                let outside = "pdb\(tag)p\(index)"
                try Self.ip("netns", "add", host.namespace)
                try Self.ip("link", "add", host.interface, "netns", host.namespace, "type", "veth", "peer", "name", outside, "netns", bridgeNamespace)
                try Self.ip("-n", bridgeNamespace, "link", "set", outside, "master", bridge, "up")
                try Self.run(["ip", "netns", "exec", host.namespace, "sysctl", "-qw", "net.ipv6.conf.\(host.interface).accept_dad=0"])
                try Self.ip("-n", host.namespace, "link", "set", "lo", "up")
                try Self.ip("-n", host.namespace, "link", "set", host.interface, "up")
                try Self.ip("-n", host.namespace, "-6", "addr", "add", "\(host.address)/64", "dev", host.interface, "nodad")
                if let ipv4Address = host.ipv4Address {
                    try Self.ip("-n", host.namespace, "-4", "addr", "add", "\(ipv4Address)/24", "dev", host.interface)
                }
                if let rate {
                    try Self.shape(host.interface, in: host.namespace, to: rate)
                    try Self.shape(outside, in: bridgeNamespace, to: rate)
                }
            }
        } catch {
            tearDown()
            throw error
        }
    }

    private static func shape(_ interface: String, in namespace: String, to rate: String) throws {
        try run(["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", interface, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"])
    }

    /// `[fe80::N%interface]:port` for reaching `host` from `from`.
    func peerAddress(of host: Host, from: Host, port: String) -> String {
        "[\(host.address)%\(from.interface)]:\(port)"
    }

    func tearDown() {
        for namespace in hosts.map(\.namespace) + [bridgeNamespace] {
            if let pids = try? Self.run(["ip", "netns", "pids", namespace]) {
                pids.split(separator: "\n").compactMap { pid_t($0) }.forEach { kill($0, SIGKILL) }
            }
            _ = try? Self.ip("netns", "del", namespace)
        }
    }

    deinit {
        tearDown()
    }

    /// Bytes `host` has sent on its link so far, headers included (the interface's `tx_bytes`).
    func transmittedBytes(of host: Host) -> Int {
        guard let text = try? Self.ip("-n", host.namespace, "-j", "-s", "link", "show", "dev", host.interface),
              let links = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]],
              let statistics = links.first?["stats64"] as? [String: Any],
              let transmitted = statistics["tx"] as? [String: Any],
              let bytes = transmitted["bytes"] as? Int
        else { return 0 }
        return bytes
    }

    /// TCP segments `host` has sent again so far (`RetransSegs` in its namespace's /proc/net/snmp):
    /// how much of what it sent the link lost or the receiver did not take in time.
    func retransmittedSegments(of host: Host) -> Int {
        guard let snmp = try? Self.run(["ip", "netns", "exec", host.namespace, "cat", "/proc/net/snmp"]) else { return 0 }
        // Two "Tcp:" lines: field names, then values.
        let tcp = snmp.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }.map { $0.split(separator: " ") }
        guard tcp.count == 2, let column = tcp[0].firstIndex(of: "RetransSegs"), column < tcp[1].count else { return 0 }
        return Int(tcp[1][column]) ?? 0
    }

    /// Sum of CPU seconds used so far by every process in `host`'s namespace.
    func cpuSeconds(in host: Host) -> Double {
        guard let pids = try? Self.run(["ip", "netns", "pids", host.namespace]) else { return 0 }
        return pids.split(separator: "\n").compactMap { pid_t($0) }.reduce(0) { $0 + Subprocess.cpuSeconds(of: $1) }
    }

    /// Largest peak resident memory of any process in `host`'s namespace, but those excluded.
    func peakResidentBytes(in host: Host, excluding excluded: Set<pid_t> = []) -> Int {
        guard let pids = try? Self.run(["ip", "netns", "pids", host.namespace]) else { return 0 }
        return pids.split(separator: "\n").compactMap { pid_t($0) }.filter { !excluded.contains($0) }
            .map(Subprocess.residentHighWaterMark(of:)).max() ?? 0
    }

    @discardableResult
    static func ip(_ arguments: String...) throws -> String {
        try run(["ip"] + arguments)
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        do {
            return try Subprocess.run(arguments, captureOutput: true)
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
