import Foundation
import PeerDistCommandSupport

/// PeerDist mirrors: a `serve` node on every host; `mirror publish` hands the tree to the
/// publisher's node (which scans it and publishes a signed version) and, the first time,
/// `mirror follow` points every follower's node at the mirror by name. No addresses are given:
/// nodes find each other by multicast. A phase ends when `mirror wait` has returned for every
/// follower: its node holds the version just published with nothing pending.
///
/// The clock covers publishing too: it is where the publisher reads and hashes the tree, the
/// work rsync does on every run.
final class PeerDistMirror: MirrorMethod {
    private static let port = 7741
    private static let classifier = "bench"

    private let setup: MirrorSetup
    private let processes: SwarmProcesses
    /// The mirror's full name, once published and followed.
    private var name: String?

    init(setup: MirrorSetup, processes: SwarmProcesses) {
        self.setup = setup
        self.processes = processes
    }

    private func dataDirectory(host index: Int) -> String { setup.stateDirectory(host: index, "node") }

    func prepare() throws {
        for (index, host) in setup.hosts.enumerated() {
            let log = index == 0 ? "publisher-serve.log" : "follower\(index)-serve.log"
            let pid = try processes.start(
                [setup.executable, "serve", "--data-dir", dataDirectory(host: index), "--listen", "[::]:\(Self.port)"], in: host, log: log)
            try processes.waitForLog(log, containing: "listening on", pid: pid)
        }
    }

    func synchronize(phase: String, deadline: ContinuousClock.Instant) throws -> Double? {
        let publishStarted = ContinuousClock.now
        let published = try processes.run(
            [setup.executable, "mirror", "publish", setup.publisherTree, "--name", Self.classifier, "--data-dir", dataDirectory(host: 0), "--json"],
            in: setup.publisher, log: "publish-\(phase).log", until: deadline)
        let publishSeconds = (ContinuousClock.now - publishStarted).seconds
        guard let reply = try? JSONSerialization.jsonObject(with: Data(published.utf8)) as? [String: Any],
              let name = reply["name"] as? String, let version = (reply["version"] as? NSNumber)?.intValue
        else {
            throw CommandFailure("peerdist mirror publish printed no name and version: \(published.prefix(200))")
        }

        if let followed = self.name {
            guard followed == name else { throw CommandFailure("peerdist mirror publish named the mirror \(name), not \(followed) as before") }
        } else {
            for (index, follower) in setup.followers.enumerated() {
                _ = try processes.run(
                    [setup.executable, "mirror", "follow", name, setup.followerTree(index), "--data-dir", dataDirectory(host: index + 1)],
                    in: follower, log: "follower\(index + 1)-follow.log", until: deadline)
            }
            self.name = name
        }

        // One `mirror wait` per follower in turn, each asking its node over the control socket
        // (from here: not counted as the method's CPU time) until it holds the version: the last
        // to return marks the moment every follower is up to date.
        for index in setup.followers.indices {
            let remaining = max(1, (deadline - ContinuousClock.now).seconds)
            let log = "follower\(index + 1)-wait-\(phase).log"
            do {
                _ = try ChildProcess.run(
                    [setup.executable, "mirror", "wait", name, "--version", "\(version)", "--timeout", String(format: "%.1f", remaining),
                     "--data-dir", dataDirectory(host: index + 1)],
                    errorPath: processes.logPath(log))
            } catch {
                let state = (try? status(of: index, mirror: name)).flatMap { $0 }.map {
                    "version \($0.version) of \(version), \(ByteCount.format($0.pendingBytes)) pending, \($0.state)"
                } ?? "not listing the mirror"
                throw CommandFailure("follower \(index + 1) did not reach version \(version) (\(state)): \(processes.logTail(log))")
            }
            try BenchInterruption.shared.check()
        }
        return publishSeconds
    }

    private struct FollowerStatus {
        let version: Int
        let pendingBytes: Int
        let state: String
    }

    /// What `mirror status` on follower `index` says of the mirror; `nil` while it does not list it.
    private func status(of index: Int, mirror name: String) throws -> FollowerStatus? {
        // Asked through the node's control socket, from here: no namespace, and not counted as
        // the method's CPU time. `timeout` keeps a node that stopped answering from hanging the run.
        let log = "follower\(index + 1)-status.log"
        let output: String
        do {
            output = try ChildProcess.run(
                ["timeout", "10", setup.executable, "mirror", "status", "--data-dir", dataDirectory(host: index + 1), "--json"],
                errorPath: processes.logPath(log))
        } catch {
            throw CommandFailure("peerdist mirror status on follower \(index + 1) failed: \(processes.logTail(log))")
        }
        guard let reply = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
              let mirrors = reply["mirrors"] as? [[String: Any]]
        else {
            throw CommandFailure("peerdist mirror status on follower \(index + 1) printed no mirrors: \(output.prefix(200))")
        }
        guard let mirror = mirrors.first(where: { $0["name"] as? String == name }) else { return nil }
        return FollowerStatus(
            version: (mirror["version"] as? NSNumber)?.intValue ?? 0, pendingBytes: (mirror["pending_bytes"] as? NSNumber)?.intValue ?? -1,
            state: mirror["state"] as? String ?? "?")
    }
}
