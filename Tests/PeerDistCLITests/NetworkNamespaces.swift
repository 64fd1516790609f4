import Foundation

/// Two hosts for a test: network namespaces joined by a veth pair, each end with a fixed
/// link-local address (`fe80::a` and `fe80::b`). Everything is deleted when the value goes away,
/// whether the test passed or not.
final class NetworkNamespaces: @unchecked Sendable {
    let first: String
    let second: String
    let firstInterface: String
    let secondInterface: String

    /// `nil` when this machine cannot make namespaces (not root, or no `ip`). With `linked: false`
    /// the namespaces start with loopback only, until `link()`.
    static func make(linked: Bool = true) throws -> NetworkNamespaces? {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            return nil
        }
        return try NetworkNamespaces(linked: linked)
    }

    private init(linked: Bool) throws {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        first = "pd-\(tag)-a"
        second = "pd-\(tag)-b"
        firstInterface = "pd\(tag)a"
        secondInterface = "pd\(tag)b"
        do {
            try Self.ip("netns", "add", first)
            try Self.ip("netns", "add", second)
            for namespace in [first, second] { try Self.ip("-n", namespace, "link", "set", "lo", "up") }
            if linked { try link() }
        } catch {
            cleanUp()
            throw error
        }
    }

    /// Joins the two namespaces with the veth pair and brings it up (a failure is cleaned up
    /// with the namespaces, when the value goes away).
    func link() throws {
        try Self.ip("link", "add", firstInterface, "type", "veth", "peer", "name", secondInterface)
        for (namespace, interface, address) in [(first, firstInterface, "fe80::a"), (second, secondInterface, "fe80::b")] {
            try Self.ip("link", "set", interface, "netns", namespace)
            try Self.run(["ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv6.conf.\(interface).accept_dad=0"])
            try Self.ip("-n", namespace, "link", "set", interface, "up")
            try Self.ip("-n", namespace, "-6", "addr", "add", "\(address)/64", "dev", interface, "nodad")
        }
    }

    deinit {
        cleanUp()
    }

    private func cleanUp() {
        // Deleting a namespace deletes its end of the veth pair, and with it the other end.
        for namespace in [first, second] {
            try? Self.ip("netns", "pids", namespace).split(separator: "\n").forEach { kill(pid_t($0) ?? 0, SIGKILL) }
            _ = try? Self.ip("netns", "del", namespace)
        }
    }

    /// `peerdist ARGUMENTS` run inside a namespace.
    func peerdist(in namespace: String, _ arguments: [String]) throws -> CommandResult {
        try Peerdist.run(arguments, namespace: namespace)
    }

    @discardableResult
    static func ip(_ arguments: String...) throws -> String {
        try run(["ip"] + arguments)
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw CommandFailure(description: "\(arguments.joined(separator: " ")): \(text)") }
        return text
    }

    struct CommandFailure: Error, CustomStringConvertible {
        let description: String
    }
}
