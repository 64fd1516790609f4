import Foundation
import PeerDistCommandSupport

/// Hosts for a benchmark or a test: network namespaces whose veth links meet on one bridge (in a
/// namespace of its own), each host with a fixed link-local address (`fe80::1`, `fe80::2`, …)
/// and on request an IPv4 address (`10.77.0.1`, …) for baselines that need one.
///
/// Everything is deleted by `tearDown`, or when the value goes away, and also when making it
/// fails halfway, whether the run passed or not.
package final class NetworkHosts: @unchecked Sendable {
    package struct Host: Sendable {
        package let namespace: String
        /// The host's interface inside its namespace.
        package let interface: String
        package let address: String
        package let ipv4Address: String?
    }

    package let hosts: [Host]
    private let tag: String
    private let bridge: String
    private let bridgeNamespace: String
    private let rate: String?
    /// Room made in the kernel's shared neighbour tables for this many hosts, given back at tear-down.
    private let neighbourLimits: NeighbourTableLimits?

    /// Whether this machine can make them: root, with `ip` installed.
    package static var canBeMade: Bool {
        getuid() == 0 && ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// - Parameters:
    ///   - rate: with a value, every host's link is shaped to it (`tc tbf`), e.g. "1gbit", in
    ///     both directions: on the host's end of its veth pair (what it sends) and on the bridge's
    ///     end (what it receives). A switched link limits both ways; shaping only what each host
    ///     sends would let one host receive from several senders at once at a multiple of the rate.
    ///   - ipv4: also give each host `10.77.0.N/24`.
    ///   - linked: with `false` the hosts start with loopback only, until `link()`.
    package init(count: Int, rate: String? = nil, ipv4: Bool = false, linked: Bool = true) throws(NetworkHostsFailure) {
        guard getuid() == 0 else { throw NetworkHostsFailure("hosts in network namespaces need root") }
        let tag = String(UInt32.random(in: 0...UInt32.max) % 1_000_000, radix: 36)
        self.tag = tag
        bridgeNamespace = "pd-\(tag)-br"
        bridge = "pdbr\(tag)"
        self.rate = rate
        neighbourLimits = NeighbourTableLimits.makeRoom(forHosts: count)
        hosts = (0..<count).map {
            Host(namespace: "pd-\(tag)-\($0)", interface: "pdh\(tag)x\($0)", address: "fe80::\($0 + 1)", ipv4Address: ipv4 ? "10.77.0.\($0 + 1)" : nil)
        }
        do {
            try Self.ip("netns", "add", bridgeNamespace)
            // Without MLD snooping, like an unmanaged switch: a Linux bridge that snoops but has
            // no querier forwards a multicast group only to ports whose reports it happened to see.
            try Self.ip("-n", bridgeNamespace, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0")
            try Self.ip("-n", bridgeNamespace, "link", "set", bridge, "up")
            for host in hosts {
                try Self.ip("netns", "add", host.namespace)
                try Self.ip("-n", host.namespace, "link", "set", "lo", "up")
            }
            if linked { try link() }
        } catch {
            tearDown()
            throw error
        }
    }

    /// Joins every host to the bridge by a veth pair and gives it its addresses (a failure is
    /// cleaned up with the namespaces).
    package func link() throws(NetworkHostsFailure) {
        for (index, host) in hosts.enumerated() {
            let outside = "pdb\(tag)p\(index)"
            try Self.ip("link", "add", host.interface, "netns", host.namespace, "type", "veth", "peer", "name", outside, "netns", bridgeNamespace)
            try Self.ip("-n", bridgeNamespace, "link", "set", outside, "master", bridge, "up")
            try Self.run(["ip", "netns", "exec", host.namespace, "sysctl", "-qw", "net.ipv6.conf.\(host.interface).accept_dad=0"])
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
    }

    private static func shape(_ interface: String, in namespace: String, to rate: String) throws(NetworkHostsFailure) {
        try run(["ip", "netns", "exec", namespace, "tc", "qdisc", "replace", "dev", interface, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"])
    }

    /// Shapes one host's link to `rate` both ways, in place of the rate given to all (a server
    /// behind a slower link than the LAN's, say); call after `link()`.
    package func shape(_ host: Host, to rate: String) throws(NetworkHostsFailure) {
        guard let index = hosts.firstIndex(where: { $0.namespace == host.namespace }) else { return }
        try Self.shape(host.interface, in: host.namespace, to: rate)
        try Self.shape("pdb\(tag)p\(index)", in: bridgeNamespace, to: rate)
    }

    /// A tap device on the hosts' bridge, up, for a virtual machine to join the link as one more
    /// host (QEMU's `-netdev tap,ifname=INTERFACE,script=no`); one per value. It lives in the
    /// bridge's namespace, where the machine must run to open it; tear-down kills the machine and
    /// deletes the tap with that namespace.
    package func addTap() throws(NetworkHostsFailure) -> (namespace: String, interface: String) {
        let tap = "pdt\(tag)"
        try Self.ip("-n", bridgeNamespace, "tuntap", "add", tap, "mode", "tap")
        try Self.ip("-n", bridgeNamespace, "link", "set", tap, "master", bridge, "up")
        return (bridgeNamespace, tap)
    }

    /// `[fe80::N%interface]:port` for reaching `host` from `from`.
    package func peerAddress(of host: Host, from: Host, port: String) -> String {
        "[\(host.address)%\(from.interface)]:\(port)"
    }

    /// Kills what runs in the namespaces and deletes them; deleting a namespace deletes its end
    /// of each veth pair, and with it the other end. Safe to call more than once.
    package func tearDown() {
        for namespace in hosts.map(\.namespace) + [bridgeNamespace] {
            if let pids = try? Self.ip("netns", "pids", namespace) {
                pids.split(separator: "\n").compactMap { pid_t($0) }.forEach { kill($0, SIGKILL) }
            }
            _ = try? Self.ip("netns", "del", namespace)
        }
        neighbourLimits?.restore()
    }

    deinit {
        tearDown()
    }

    /// Bytes `host` has sent on its link so far, headers included (the interface's `tx_bytes`).
    package func transmittedBytes(of host: Host) -> Int {
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
    package func retransmittedSegments(of host: Host) -> Int {
        guard let snmp = try? Self.run(["ip", "netns", "exec", host.namespace, "cat", "/proc/net/snmp"]) else { return 0 }
        // Two "Tcp:" lines: field names, then values.
        let tcp = snmp.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }.map { $0.split(separator: " ") }
        guard tcp.count == 2, let column = tcp[0].firstIndex(of: "RetransSegs"), column < tcp[1].count else { return 0 }
        return Int(tcp[1][column]) ?? 0
    }

    /// Sum of CPU seconds used so far by every process in `host`'s namespace.
    package func cpuSeconds(in host: Host) -> Double {
        processes(in: host).reduce(0) { $0 + ProcessTable.cpuSeconds(of: $1) }
    }

    /// Largest peak resident memory of any process in `host`'s namespace, but those excluded.
    package func peakResidentBytes(in host: Host, excluding excluded: Set<pid_t> = []) -> Int {
        processes(in: host).filter { !excluded.contains($0) }.map(ProcessTable.residentHighWaterMark(of:)).max() ?? 0
    }

    private func processes(in host: Host) -> [pid_t] {
        guard let pids = try? Self.run(["ip", "netns", "pids", host.namespace]) else { return [] }
        return pids.split(separator: "\n").compactMap { pid_t($0) }
    }

    @discardableResult
    package static func ip(_ arguments: String...) throws(NetworkHostsFailure) -> String {
        try run(["ip"] + arguments)
    }

    /// Runs `arguments` and returns what it printed. Foundation's `Process` rather than
    /// `ChildProcess`: tests call this from synchronous test functions, which Swift Testing runs on
    /// the cooperative pool, where waiting for swift-subprocess's tasks could block every pool
    /// thread. `ip`, `tc` and `sysctl` do not care about the signal mask they inherit.
    @discardableResult
    package static func run(_ arguments: [String]) throws(NetworkHostsFailure) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            throw NetworkHostsFailure("\(arguments.joined(separator: " ")): \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw NetworkHostsFailure("\(arguments.joined(separator: " ")): \(text)") }
        return text
    }
}

package struct NetworkHostsFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
