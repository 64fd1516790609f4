import ArgumentParser
import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// Presence at the scale of an office floor: many nodes in network namespaces on one bridge,
/// People Near Me on, each watched by several contacts. How long a status change takes to
/// reach every watcher's `peerdist events`, and what the nodes send when nothing changes.
struct PresenceBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "Time presence changes to every watcher, and measure idle traffic, across many nodes.",
        discussion: """
            Needs root: every node is a `peerdist serve` in its own network namespace on one bridge. \
            Node i is watched by the next --watchers nodes (and watches none of them back). Reports \
            the delay from a status change (the time the person set it) to each watcher's event, \
            median and maximum over all changes and watchers; then the bytes each node's link sends \
            per second over --idle seconds with nothing changing, median and maximum. The floor is \
            the round trip of a ping across the same bridge.
            """
    )

    @Option(help: "Number of nodes.")
    var nodes = 50

    @Option(help: "Contacts watching each node.")
    var watchers = 10

    @Option(help: "Status changes to time, made on different nodes in turn.")
    var changes = 20

    @Option(help: ArgumentHelp("Seconds of quiet over which idle traffic is measured.", valueName: "seconds"))
    var idle = 60

    @Flag(help: "Run the nodes with --verbose, their logs kept with a run that misses events.")
    var verbose = false

    func validate() throws {
        guard (2...200).contains(nodes) else { throw ValidationError("--nodes must be between 2 and 200.") }
        guard (1..<nodes).contains(watchers) else { throw ValidationError("--watchers must be between 1 and --nodes minus 1.") }
        guard changes >= 1, idle >= 1 else { throw ValidationError("--changes and --idle must be positive.") }
    }

    func run() throws {
        let interruption = try NamespaceBenchmark.begin("presence", requiring: [RequiredTool("ping", package: "iputils-ping")])
        defer { interruption.cancel() }
        let network = try NetworkHosts(count: nodes)
        defer { network.tearDown() }
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let work = "\(base)/peerdist-presence-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let floor = try PresenceFloor.pingRoundTrip(network: network)
        let overflowsBefore = NeighbourTableLimits.overflowsSoFar()

        let people = try PresenceCrowd(network: network, executable: try PeerdistBinary.path(), work: work, watchers: watchers, verbose: verbose)
        Output.error("setting up \(nodes) people, each watched by \(watchers)…")
        try people.prepare()
        Output.error("starting \(nodes) nodes…")
        try people.start()
        defer { people.stop() }
        try people.waitUntilEveryoneIsWatched(timeout: .seconds(180))

        Output.error("timing \(changes) status changes…")
        var made: [(person: Int, note: String)] = []
        for change in 0..<changes {
            let person = (change * 7) % nodes
            let note = "change \(change)"
            try people.setStatus(of: person, change.isMultiple(of: 2) ? "away" : "busy", note: note)
            made.append((person, note))
            Thread.sleep(forTimeInterval: 0.5)
        }
        // Read once every change had seconds to arrive: a late event counts with its delay.
        Thread.sleep(forTimeInterval: 5)
        var delays: [Double] = []
        var missed = 0
        for (person, note) in made {
            let (arrived, missing) = people.delays(of: person, note: note)
            delays += arrived
            missed += missing
        }

        Output.error("measuring \(idle) s of idle traffic…")
        let before = network.hosts.map { network.transmittedBytes(of: $0) }
        let start = Date()
        Thread.sleep(forTimeInterval: TimeInterval(idle))
        let seconds = Date().timeIntervalSince(start)
        let rates = zip(network.hosts, before).map { Double(network.transmittedBytes(of: $0) - $1) / seconds }

        let milliseconds = delays.map { $0 * 1000 }.sorted()
        Output.line("presence: \(nodes) nodes on one bridge, People Near Me on, each watched by \(watchers) contacts")
        Output.line(String(format: "floor: ping round trip across the bridge, median %.3f ms", floor * 1000))
        Output.line("change to every watcher's event, over \(changes) changes × \(watchers) watchers (\(milliseconds.count) events, \(missed) missing):")
        if let median = Statistics.median(milliseconds), let maximum = milliseconds.last {
            Output.line(String(format: "  median %.1f ms, 90th percentile %.1f ms, maximum %.1f ms (goals: median ≤ 100 ms, maximum ≤ 1000 ms)",
                               median, milliseconds[min(milliseconds.count - 1, milliseconds.count * 9 / 10)], maximum))
        }
        if missed > 0 {
            // The nodes' logs and event streams, for finding out why.
            let kept = "\(FileManager.default.temporaryDirectory.path)/peerdist-presence-logs-\(getpid())"
            try? FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? [] where file.hasSuffix(".log") || file.hasSuffix(".jsonl") {
                try? FileManager.default.copyItem(atPath: "\(work)/\(file)", toPath: "\(kept)/\(file)")
            }
            Output.line("  the logs and event streams of this run are kept in \(kept)")
        }
        if let before = overflowsBefore, let after = NeighbourTableLimits.overflowsSoFar() {
            // Drops that no LAN of separate machines has: all namespaces share one neighbour table.
            Output.line("the kernel's neighbour table was full \(after - before) times during the run (0 expected: packets are lost when it is)")
        }
        if let median = Statistics.median(rates), let maximum = rates.max() {
            Output.line(String(format: "idle traffic sent per node over %.0f s: median %.0f B/s, maximum %.0f B/s (goal ≤ 1024 B/s)", seconds, median, maximum))
        }
    }
}

/// The floor for a change's delay: a packet's round trip across the same bridge.
enum PresenceFloor {
    static func pingRoundTrip(network: NetworkHosts) throws -> Double {
        let target = "\(network.hosts[1].address)%\(network.hosts[0].interface)"
        let output = try ChildProcess.run(["ip", "netns", "exec", network.hosts[0].namespace, "ping", "-6", "-n", "-c", "20", "-i", "0.05", target])
        let times = output.split(separator: "\n").compactMap { line -> Double? in
            guard let range = line.range(of: "time=") else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." }).map { $0 / 1000 }
        }
        return Statistics.median(times) ?? 0
    }
}

/// The benchmark's people: their data directories, contacts, nodes and event streams.
final class PresenceCrowd {
    let network: NetworkHosts
    let executable: String
    let work: String
    let watchers: Int
    let verbose: Bool
    private(set) var fingerprints: [String] = []
    private var processes: [RunningProcess] = []

    init(network: NetworkHosts, executable: String, work: String, watchers: Int, verbose: Bool) throws {
        self.verbose = verbose
        self.network = network
        self.executable = executable
        self.work = work
        self.watchers = watchers
    }

    var count: Int { network.hosts.count }
    func directory(_ person: Int) -> String { "\(work)/person-\(person)" }
    func eventLog(_ person: Int) -> String { "\(work)/events-\(person).jsonl" }

    /// Who watches `person`: the next `watchers` people, round the circle.
    func watchers(of person: Int) -> [Int] { (1...watchers).map { (person + $0) % count } }

    @discardableResult
    private func peerdist(_ person: Int, _ arguments: [String]) throws -> String {
        try ChildProcess.run([executable] + arguments + ["--data-dir", directory(person)])
    }

    /// Names, People Near Me on, cards exchanged: each watcher adds the person it watches, and
    /// the person adds the watcher (so that it may watch) without watching back.
    func prepare() throws {
        var cards: [String] = []
        for person in 0..<count {
            try peerdist(person, ["me", "set", "--name", "Person \(person)"])
            try peerdist(person, ["near-me", "on"])
            cards.append(try peerdist(person, ["me", "card"]).trimmingCharacters(in: .whitespacesAndNewlines))
            let me = try JSONSerialization.jsonObject(with: Data(try peerdist(person, ["me", "--json"]).utf8)) as? [String: Any]
            fingerprints.append(me?["fingerprint"] as? String ?? "")
        }
        for person in 0..<count {
            for watcher in watchers(of: person) {
                try peerdist(watcher, ["contacts", "add", cards[person]])
                try peerdist(person, ["contacts", "add", cards[watcher]])
                try peerdist(person, ["contacts", "set", fingerprints[watcher], "--watch", "off"])
            }
        }
    }

    func start() throws {
        for (person, host) in network.hosts.enumerated() {
            processes.append(try ChildProcess.start(
                ["ip", "netns", "exec", host.namespace, executable, "serve", "--data-dir", directory(person), "--listen", "[::]:7000"] + (verbose ? ["--verbose"] : []),
                logPath: "\(work)/node-\(person).log"))
        }
        for person in 0..<count {
            let socket = directory(person) + "/control.sock"
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: socket), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        }
        for (person, host) in network.hosts.enumerated() {
            processes.append(try ChildProcess.start(
                ["ip", "netns", "exec", host.namespace, executable, "events", "--json", "--data-dir", directory(person)],
                outputPath: eventLog(person), errorPath: "\(work)/events-\(person).err"))
        }
    }

    func stop() {
        for process in processes.reversed() { process.stop(grace: .seconds(2)) }
        processes = []
    }

    /// Waits until every watcher lists every person it watches as online.
    func waitUntilEveryoneIsWatched(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        var pending = Set(0..<count)
        var example = ""
        while !pending.isEmpty {
            for watcher in pending {
                let listing = (try? JSONSerialization.jsonObject(with: Data(try peerdist(watcher, ["presence", "--json"]).utf8))) as? [[String: Any]] ?? []
                let watched = listing.filter { $0["me"] as? Bool == false }
                if watched.count == watchers, watched.allSatisfy({ $0["status"] as? String == "online" }) {
                    pending.remove(watcher)
                } else if let missing = watched.first(where: { $0["status"] as? String != "online" }) {
                    example = "person \(watcher) sees \(missing["name"] ?? "?") \(missing["status"] ?? "?"): \(missing["reason"] ?? "")"
                }
            }
            guard ContinuousClock.now < deadline else {
                throw CommandFailure("\(pending.count) of \(count) watchers never saw all their contacts online (\(example))")
            }
            if !pending.isEmpty { Thread.sleep(forTimeInterval: 0.5) }
        }
    }

    func setStatus(of person: Int, _ status: String, note: String) throws {
        try peerdist(person, ["presence", "set", status, "--note", note])
    }

    /// For each watcher of `person`, how long the change with `note` took from when it was set
    /// to the watcher's event; and how many watchers have no such event.
    func delays(of person: Int, note: String) -> (arrived: [Double], missing: Int) {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var arrived: [Double] = []
        var missing = 0
        for watcher in watchers(of: person) {
            let lines = ((try? String(contentsOfFile: eventLog(watcher), encoding: .utf8)) ?? "").split(separator: "\n")
            let event = lines.lazy.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.first {
                $0["type"] as? String == "presence" && $0["fingerprint"] as? String == self.fingerprints[person] && $0["note"] as? String == note
            }
            guard let event, let time = (event["time"] as? String).flatMap(format.date(from:)),
                  let since = (event["since"] as? String).flatMap(format.date(from:))
            else {
                missing += 1
                continue
            }
            arrived.append(time.timeIntervalSince(since))
        }
        return (arrived, missing)
    }
}
