import Foundation
import PeerDistTestHosts
import Testing

/// A person for the collaboration tests: a data directory with a name, a `peerdist serve` in
/// the person's own network namespace, and their commands run there.
final class Person {
    let name: String
    let namespace: String
    let dataDirectory: String
    private(set) var node: NodeProcess?

    init(_ name: String, namespace: String, scratch: ScratchDirectory) throws {
        self.name = name
        self.namespace = namespace
        dataDirectory = scratch.child(name.lowercased() + "-\(UUID().uuidString.prefix(4))")
        try expectSuccess(["me", "set", "--name", name])
    }

    func start(_ arguments: [String] = []) throws {
        node = try NodeProcess(dataDirectory: dataDirectory, listen: "[::]:0", namespace: namespace, extraArguments: arguments)
    }

    /// Kills the node with SIGKILL, as a crash would.
    func kill() {
        guard let node, node.process.isRunning else { return }
        Glibc.kill(node.process.processIdentifier, SIGKILL)
        node.process.waitUntilExit()
    }

    func stop() { node?.stop() }

    @discardableResult
    func run(_ arguments: [String]) throws -> CommandResult {
        try Peerdist.run(arguments + ["--data-dir", dataDirectory], namespace: namespace)
    }

    /// Runs the command and records a failure (with its error output) if it did not succeed.
    @discardableResult
    func expectSuccess(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try run(arguments)
        #expect(result.status == 0, "peerdist \(arguments.joined(separator: " ")): \(result.standardError)", sourceLocation: sourceLocation)
        return result
    }

    /// The command's `--json` output, parsed.
    func json(_ arguments: [String]) throws -> Any {
        let result = try run(arguments + ["--json"])
        guard result.status == 0 else { throw CollaborationTests.Failed("peerdist \(arguments.joined(separator: " ")): \(result.standardError)") }
        return try JSONSerialization.jsonObject(with: result.output)
    }

    var card: String {
        get throws { try expectSuccess(["me", "card"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    var fingerprint: String {
        get throws { ((try json(["me"]) as? [String: Any])?["fingerprint"] as? String) ?? "" }
    }

    /// `peerdist events --json` running in the background, its lines collected in a file.
    func events() throws -> EventLog {
        let log = dataDirectory + ".events"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace, Peerdist.binary.path, "events", "--json", "--data-dir", dataDirectory]
        try process.run(output: log, error: log + ".err")
        return EventLog(process: process, path: log)
    }

    deinit { stop() }
}

/// The lines `peerdist events --json` printed so far.
final class EventLog {
    let process: Process
    let path: String

    init(process: Process, path: String) {
        self.process = process
        self.path = path
    }

    var events: [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func contains(_ type: String, where matches: ([String: Any]) -> Bool = { _ in true }) -> Bool {
        events.contains { $0["type"] as? String == type && matches($0) }
    }

    deinit {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

extension CollaborationTests {
    struct Failed: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Waits up to `timeout` for `condition`, recording `failure` if it never holds.
    @discardableResult
    static func eventually(_ failure: String, timeout: TimeInterval = 60, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record(Comment(rawValue: failure), sourceLocation: sourceLocation)
        return false
    }

    /// Alice and Bob, contacts of each other; Carol, who has Alice's and Bob's cards but is
    /// nobody's contact. Each on a host of one bridge, nodes running.
    static func threePeople(hosts: NetworkHosts, scratch: ScratchDirectory, serving arguments: [String] = []) throws -> (alice: Person, bob: Person, carol: Person) {
        let alice = try Person("Alice", namespace: hosts.hosts[0].namespace, scratch: scratch)
        let bob = try Person("Bob", namespace: hosts.hosts[1].namespace, scratch: scratch)
        let carol = try Person("Carol", namespace: hosts.hosts[2].namespace, scratch: scratch)
        let (aliceCard, bobCard) = (try alice.card, try bob.card)
        try alice.expectSuccess(["contacts", "add", bobCard])
        try bob.expectSuccess(["contacts", "add", aliceCard])
        try carol.expectSuccess(["contacts", "add", aliceCard])
        try carol.expectSuccess(["contacts", "add", bobCard])
        for person in [alice, bob, carol] { try person.start(arguments) }
        return (alice, bob, carol)
    }
}
