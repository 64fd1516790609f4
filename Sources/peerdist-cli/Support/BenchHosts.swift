import Foundation

/// Hosts for a benchmark: network namespaces on one bridge, each joined by a veth pair and given
/// a fixed link-local address (`fe80::1`, `fe80::2`, …). Deleted again by `tearDown`, and on
/// the way out of any command that made them.
final class BenchHosts {
    struct Host {
        let namespace: String
        /// The host's interface inside its namespace.
        let interface: String
        let address: String
    }

    let hosts: [Host]
    private let bridge: String
    private let bridgeNamespace: String

    /// - Parameter rate: with a value, every host's link is shaped to it (`tc tbf`), e.g. "1gbit".
    init(count: Int, rate: String? = nil) throws {
        guard getuid() == 0 else { throw CommandFailure("benchmarks between hosts need root: they create network namespaces") }
        let tag = String(UInt32.random(in: 0...UInt32.max) % 1_000_000, radix: 36)
        bridgeNamespace = "pdb-\(tag)-br"
        bridge = "pdbr\(tag)"
        hosts = (0..<count).map { Host(namespace: "pdb-\(tag)-\($0)", interface: "pdh\(tag)x\($0)", address: "fe80::\($0 + 1)") }
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
                if let rate {
                    try Self.run(["ip", "netns", "exec", host.namespace, "tc", "qdisc", "add", "dev", host.interface, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"])
                }
            }
        } catch {
            tearDown()
            throw error
        }
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
