import Foundation

/// A small internet for tests and benchmarks: several subnets, each a bridge of its own, joined
/// only by a router namespace that forwards IPv6 and IPv4 between them. Multicast does not cross
/// the router, so nodes on different subnets can only meet through unicast (the Mainline DHT).
///
/// Subnet `s` (from 1) is `fd77:s::/64` and `10.78.s.0/24`; the router is `::1`/`.1` on each, and
/// host `h` (from 1) of the subnet `fd77:s::(h+1)`/`10.78.s.(h+1)`. Everything is deleted by
/// `tearDown`, when the value goes away, and when making it fails halfway.
package final class RoutedSubnets: @unchecked Sendable {
    package struct Host: Sendable {
        package let namespace: String
        package let subnet: Int
        package let ipv6Address: String
        package let ipv4Address: String
    }

    /// `hosts[s - 1]`: the hosts of subnet `s`.
    package let hosts: [[Host]]
    package let routerNamespace: String
    private let tag: String
    private var namespaces: [String] = []

    package init(subnets: Int, hostsPerSubnet: Int) throws(NetworkHostsFailure) {
        guard getuid() == 0 else { throw NetworkHostsFailure("hosts in network namespaces need root") }
        let tag = String(UInt32.random(in: 0...UInt32.max) % 1_000_000, radix: 36)
        self.tag = tag
        routerNamespace = "pd-\(tag)-rt"
        hosts = (1...subnets).map { subnet in
            (1...hostsPerSubnet).map { host in
                Host(namespace: "pd-\(tag)-s\(subnet)h\(host)", subnet: subnet, ipv6Address: "fd77:\(subnet)::\(host + 1)", ipv4Address: "10.78.\(subnet).\(host + 1)")
            }
        }
        do {
            try make(subnets: subnets)
        } catch {
            tearDown()
            throw error
        }
    }

    private func make(subnets: Int) throws(NetworkHostsFailure) {
        try NetworkHosts.ip("netns", "add", routerNamespace)
        namespaces.append(routerNamespace)
        try NetworkHosts.ip("-n", routerNamespace, "link", "set", "lo", "up")
        try sysctl(routerNamespace, "net.ipv6.conf.all.forwarding=1")
        try sysctl(routerNamespace, "net.ipv4.ip_forward=1")
        for subnet in 1...subnets {
            let bridge = "pdr\(tag)b\(subnet)"
            // Without MLD snooping, as in NetworkHosts: multicast on a subnet reaches all its hosts.
            try NetworkHosts.ip("-n", routerNamespace, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0")
            try NetworkHosts.ip("-n", routerNamespace, "link", "set", bridge, "up")
            try sysctl(routerNamespace, "net.ipv6.conf.\(bridge).accept_dad=0")
            try NetworkHosts.ip("-n", routerNamespace, "-6", "addr", "add", "fd77:\(subnet)::1/64", "dev", bridge, "nodad")
            try NetworkHosts.ip("-n", routerNamespace, "-4", "addr", "add", "10.78.\(subnet).1/24", "dev", bridge)
            for (index, host) in hosts[subnet - 1].enumerated() {
                try NetworkHosts.ip("netns", "add", host.namespace)
                namespaces.append(host.namespace)
                try NetworkHosts.ip("-n", host.namespace, "link", "set", "lo", "up")
                let inside = "pd\(tag)s\(subnet)h\(index)"
                let outside = "pdr\(tag)s\(subnet)p\(index)"
                try NetworkHosts.ip("link", "add", inside, "netns", host.namespace, "type", "veth", "peer", "name", outside, "netns", routerNamespace)
                try NetworkHosts.ip("-n", routerNamespace, "link", "set", outside, "master", bridge, "up")
                try sysctl(host.namespace, "net.ipv6.conf.\(inside).accept_dad=0")
                try NetworkHosts.ip("-n", host.namespace, "link", "set", inside, "up")
                try NetworkHosts.ip("-n", host.namespace, "-6", "addr", "add", "\(host.ipv6Address)/64", "dev", inside, "nodad")
                try NetworkHosts.ip("-n", host.namespace, "-4", "addr", "add", "\(host.ipv4Address)/24", "dev", inside)
                try NetworkHosts.ip("-n", host.namespace, "-6", "route", "add", "default", "via", "fd77:\(subnet)::1")
                try NetworkHosts.ip("-n", host.namespace, "-4", "route", "add", "default", "via", "10.78.\(subnet).1")
            }
        }
    }

    private func sysctl(_ namespace: String, _ setting: String) throws(NetworkHostsFailure) {
        try NetworkHosts.run(["ip", "netns", "exec", namespace, "sysctl", "-qw", setting])
    }

    package var allHosts: [Host] { hosts.flatMap { $0 } }

    /// Kills what runs in the namespaces and deletes them. Safe to call more than once.
    package func tearDown() {
        for namespace in namespaces.reversed() {
            if let pids = try? NetworkHosts.ip("netns", "pids", namespace) {
                pids.split(separator: "\n").compactMap { pid_t($0) }.forEach { kill($0, SIGKILL) }
            }
            _ = try? NetworkHosts.ip("netns", "del", namespace)
        }
        namespaces.removeAll()
    }

    deinit {
        tearDown()
    }
}
