import ArgumentParser
import Foundation
import PeerDistCommandSupport
import PeerDistDHT
import PeerDistHashing
import PeerDistTestHosts

/// Lookups on a Mainline DHT of libtorrent nodes and a few PeerDist nodes, across subnets joined
/// by a router: how long PeerDist takes to find a content's holders and to resolve a name, and
/// how many messages each lookup sends, beside libtorrent's own `get_peers` in the same run.
struct DHTBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "Time DHT lookups (holders of content, names) against libtorrent's get_peers, on 100+ DHT nodes.",
        discussion: """
            Needs root and python3-libtorrent. Three subnets joined by a router namespace; on each, \
            one process of libtorrent sessions (DHT only, IPv6 and IPv4) and one `peerdist serve \
            --global` joined through them. The PeerDist node on subnet 1 publishes --lookups small \
            contents and registers as many names; the node on subnet 3 looks each up (`dht peers` \
            for the content's key, `names resolve` from the name alone), and libtorrent on subnet 3 \
            runs get_peers for the same keys. Reports median and 95th percentile time and the \
            median messages sent per lookup.
            """
    )

    @Option(help: "libtorrent sessions in all (each a DHT node on IPv6 and one on IPv4), split over three subnets.")
    var libtorrentSessions = 120

    @Option(help: "Lookups of each kind.")
    var lookups = 30

    func validate() throws {
        guard (6...600).contains(libtorrentSessions) else { throw ValidationError("--libtorrent-sessions must be between 6 and 600.") }
        guard (1...500).contains(lookups) else { throw ValidationError("--lookups must be between 1 and 500.") }
    }

    func run() throws {
        let interruption = try NamespaceBenchmark.begin("dht", requiring: [RequiredTool("python3", package: "python3-libtorrent")])
        defer { interruption.cancel() }
        // The checkout the binaries were built in holds the script: look up from the binary.
        var directory = URL(fileURLWithPath: try PeerdistBinary.path()).deletingLastPathComponent()
        while directory.path != "/", !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("scripts/libtorrent-dht").path) {
            directory.deleteLastPathComponent()
        }
        let script = directory.appendingPathComponent("scripts/libtorrent-dht").path
        guard FileManager.default.isExecutableFile(atPath: script) else { throw CommandFailure("cannot find scripts/libtorrent-dht above the peerdist binary") }
        let net = try RoutedSubnets(subnets: 3, hostsPerSubnet: 2)
        defer { net.tearDown() }
        let work = "\(FileManager.default.temporaryDirectory.path)/peerdist-dht-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        Output.error("starting \(libtorrentSessions) libtorrent sessions on three subnets…")
        let perSubnet = libtorrentSessions / 3
        var swarms: [LibtorrentDHT] = []
        defer { for swarm in swarms { swarm.stop() } }
        for subnet in 0..<3 {
            let host = net.hosts[subnet][0]
            let first = 7001 + subnet * 1000
            let bootstrap = subnet == 0 ? [] : ["[\(net.hosts[0][0].ipv6Address)]:7001", "\(net.hosts[subnet - 1][0].ipv4Address):\(first - 1000 + 1)"]
            swarms.append(try LibtorrentDHT(script: script, host: host, ports: first...(first + perSubnet - 1), bootstrap: bootstrap, log: "\(work)/libtorrent-\(subnet).log"))
        }
        for swarm in swarms { try swarm.waitForNodes() }

        Output.error("starting the PeerDist nodes…")
        let executable = try PeerdistBinary.path()
        let bootstrap = (0..<3).flatMap { ["[\(net.hosts[$0][0].ipv6Address)]:\(7003 + $0 * 1000)", "\(net.hosts[$0][0].ipv4Address):\(7004 + $0 * 1000)"] }
        var nodes: [RunningProcess] = []
        defer { for node in nodes { node.stop() } }
        for subnet in 0..<3 {
            let directory = "\(work)/node-\(subnet)"
            nodes.append(try ChildProcess.start(
                ["ip", "netns", "exec", net.hosts[subnet][1].namespace, executable, "serve", "--data-dir", directory, "--listen", "[::]:7740",
                 "--global", "--dht-bootstrap"] + bootstrap, logPath: "\(directory).log"))
        }
        let publisher = "\(work)/node-0"
        let seeker = "\(work)/node-2"
        func peerdist(_ subnet: Int, _ arguments: [String]) throws -> (output: String, error: String) {
            let errorPath = "\(work)/stderr"
            let output = (try? ChildProcess.run(["ip", "netns", "exec", net.hosts[subnet][1].namespace, executable] + arguments, errorPath: errorPath)) ?? ""
            return (output, (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
        }
        for (subnet, directory) in [(0, publisher), (2, seeker)] {
            var joined = false
            for _ in 0..<150 where !joined {
                Thread.sleep(forTimeInterval: 0.2)
                let status = try? peerdist(subnet, ["dht", "status", "--json", "--data-dir", directory])
                if let object = status.flatMap({ try? JSONSerialization.jsonObject(with: Data($0.output.utf8)) }) as? [String: Any] {
                    joined = (object["ipv4_nodes"] as? Int ?? 0) + (object["ipv6_nodes"] as? Int ?? 0) >= 8
                }
            }
            guard joined else { throw CommandFailure("the PeerDist node on subnet \(subnet + 1) did not join the DHT; see \(directory).log") }
        }

        Output.error("publishing \(lookups) contents and registering \(lookups) names on subnet 1…")
        var keys: [String] = []
        var names: [String] = []
        for index in 0..<lookups {
            let file = "\(work)/content-\(index)"
            try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }).write(to: URL(fileURLWithPath: file))
            let published = try peerdist(0, ["publish", file, "--json", "--data-dir", publisher])
            guard let object = try? JSONSerialization.jsonObject(with: Data(published.output.utf8)) as? [String: Any],
                  let text = object["content_id"] as? String, let id = ContentID(parsing: text)
            else { throw CommandFailure("publish failed: \(published.error)") }
            keys.append(ContentKeys.infoHash(forDiscoveryKey: id.discoveryKey.bytes).hex)
            let registered = try peerdist(0, ["names", "register", "bench-\(index)", "--scope", "global", "--endpoint", "[fd77:1::99]:\(8000 + index)", "--json", "--data-dir", publisher])
            guard let name = (try? JSONSerialization.jsonObject(with: Data(registered.output.utf8)) as? [String: Any])?["name"] as? String else {
                throw CommandFailure("names register failed: \(registered.error)")
            }
            names.append(name)
        }
        // Every content announced: the node announces what it holds every 2 s once joined.
        Thread.sleep(forTimeInterval: 8)

        Output.error("timing \(lookups) lookups of each kind from subnet 3…")
        var peerDistHolders: [(milliseconds: Double, queries: Int, found: Bool)] = []
        var libtorrentHolders: [(milliseconds: Double, queries: Int, found: Bool)] = []
        var resolutions: [(milliseconds: Double, queries: Int, found: Bool)] = []
        for (index, key) in keys.enumerated() {
            let found = try peerdist(2, ["dht", "peers", key, "--json", "--data-dir", seeker])
            let object = (try? JSONSerialization.jsonObject(with: Data(found.output.utf8))) as? [String: Any] ?? [:]
            let peers = object["peers"] as? [String] ?? []
            peerDistHolders.append((object["milliseconds"] as? Double ?? 0, object["queries"] as? Int ?? 0, peers.contains { $0.contains("fd77:1::3") || $0.contains("10.78.1.3") }))
            let theirs = try swarms[2].command("peers \(key) \(index % perSubnet)")
            let theirPeers = theirs["peers"] as? [String] ?? []
            libtorrentHolders.append(((theirs["seconds"] as? Double ?? 0) * 1000, theirs["messages"] as? Int ?? 0, theirPeers.contains { $0.contains("fd77:1::3") || $0.contains("10.78.1.3") }))
        }
        for (index, name) in names.enumerated() {
            let resolved = try peerdist(2, ["names", "resolve", name, "--scope", "global", "--json", "--data-dir", seeker])
            let found = resolved.output.contains("fd77:1::99]:\(8000 + index)")
            // "resolved in N ms, M DHT queries" on standard error.
            let words = resolved.error.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" })
            let milliseconds = words.firstIndex(of: "in").flatMap { Double(words[$0 + 1]) } ?? 0
            let queries = words.firstIndex(of: "ms").flatMap { Int(words[$0 + 1]) } ?? 0
            resolutions.append((milliseconds, queries, found))
        }

        func report(_ title: String, _ runs: [(milliseconds: Double, queries: Int, found: Bool)]) {
            let times = runs.map(\.milliseconds).sorted()
            let messages = runs.map { Double($0.queries) }.sorted()
            let p95 = times.isEmpty ? 0 : times[min(times.count - 1, Int((Double(times.count) * 0.95).rounded(.up)) - 1)]
            Output.line(String(format: "  %@: median %.0f ms, 95th percentile %.0f ms, median %.0f messages per lookup, found %d of %d",
                               title, Statistics.median(times) ?? 0, p95, Statistics.median(messages) ?? 0, runs.filter(\.found).count, runs.count))
        }
        Output.line("dht: \(perSubnet * 3) libtorrent sessions (\(perSubnet * 6) DHT nodes, IPv6 and IPv4) and 3 PeerDist nodes on three routed subnets; \(lookups) lookups each from subnet 3")
        report("PeerDist, holders of a content (get_peers)", peerDistHolders)
        report("libtorrent, get_peers for the same keys  ", libtorrentHolders)
        report("PeerDist, name resolution from the name  ", resolutions)
        Output.line("  (goals: median ≤ 1000 ms, 95th percentile ≤ 3000 ms; no more messages than libtorrent's get_peers)")
    }
}
