import Foundation

/// Several hosts for a test: network namespaces whose veth links meet on one bridge (in a
/// namespace of its own), each host with the link-local address `fe80::N`. Deleted when the
/// value goes away, whether the test passed or not.
final class BridgedNetwork: @unchecked Sendable {
    struct Host {
        let namespace: String
        let interface: String
    }

    let hosts: [Host]
    private let bridgeNamespace: String

    /// `nil` when this machine cannot make namespaces (not root, or no `ip`).
    static func make(hosts count: Int) throws -> BridgedNetwork? {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            return nil
        }
        return try BridgedNetwork(count: count)
    }

    private init(count: Int) throws {
        let tag = String(UInt32.random(in: 0...UInt32.max) % 1_000_000, radix: 36)
        bridgeNamespace = "pd-\(tag)-br"
        hosts = (0..<count).map { Host(namespace: "pd-\(tag)-h\($0)", interface: "pd\(tag)h\($0)") }
        do {
            try NetworkNamespaces.ip("netns", "add", bridgeNamespace)
            try NetworkNamespaces.ip("-n", bridgeNamespace, "link", "add", "br0", "type", "bridge")
            try NetworkNamespaces.ip("-n", bridgeNamespace, "link", "set", "br0", "up")
            for (index, host) in hosts.enumerated() {
                let port = "pd\(tag)p\(index)"
                try NetworkNamespaces.ip("netns", "add", host.namespace)
                try NetworkNamespaces.ip("link", "add", host.interface, "netns", host.namespace, "type", "veth", "peer", "name", port, "netns", bridgeNamespace)
                try NetworkNamespaces.ip("-n", bridgeNamespace, "link", "set", port, "master", "br0", "up")
                try NetworkNamespaces.run(["ip", "netns", "exec", host.namespace, "sysctl", "-qw", "net.ipv6.conf.\(host.interface).accept_dad=0"])
                try NetworkNamespaces.ip("-n", host.namespace, "link", "set", "lo", "up")
                try NetworkNamespaces.ip("-n", host.namespace, "link", "set", host.interface, "up")
                try NetworkNamespaces.ip("-n", host.namespace, "-6", "addr", "add", "fe80::\(index + 1)/64", "dev", host.interface, "nodad")
            }
        } catch {
            cleanUp()
            throw error
        }
    }

    deinit {
        cleanUp()
    }

    private func cleanUp() {
        for namespace in hosts.map(\.namespace) + [bridgeNamespace] {
            try? NetworkNamespaces.ip("netns", "pids", namespace).split(separator: "\n").forEach { kill(pid_t($0) ?? 0, SIGKILL) }
            _ = try? NetworkNamespaces.ip("netns", "del", namespace)
        }
    }
}
