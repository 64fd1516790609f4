import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PeerDistTestHosts
import Testing

/// `serve --metrics` and `serve --web` watched during a real transfer between two nodes, the
/// status page read by headless Chromium, and `peerdist.toml` as `serve` and `config show` read it.
@Suite(.serialized) struct OperationsTests {
    /// Large enough, at the seeder's upload limit, to be under way for several seconds.
    static let size = 24 * 1024 * 1024
    static let uploadLimit = "2MiB"

    /// A seeder (upload limited) and a leecher, both serving `leecherArguments`' endpoints, and a
    /// fetch of the seeder's file started through the leecher's control socket.
    struct Transfer {
        let scratch: ScratchDirectory
        let file: String
        let seeder: NodeProcess
        let leecher: NodeProcess
        let fetch: Process
        let output: String
        let uri: String

        init(size: Int = OperationsTests.size, uploadLimit: String = OperationsTests.uploadLimit, seederArguments: [String] = [], leecherArguments: [String]) throws {
            let (scratch, file, seeder, uri) = try PublishFetchTests.published(
                size: size, seed: 20, extraArguments: ["--max-upload", uploadLimit] + seederArguments)
            self.scratch = scratch
            self.file = file
            self.seeder = seeder
            self.uri = uri
            leecher = try NodeProcess(dataDirectory: scratch.child("leecher"), extraArguments: leecherArguments)
            output = scratch.child("fetched")
            fetch = Process()
            fetch.executableURL = Peerdist.binary
            fetch.arguments = ["fetch", uri, "--peer", seeder.address, "--data-dir", leecher.dataDirectory, "-o", output, "--json"]
            try fetch.run(output: scratch.child("fetch.out"), error: scratch.child("fetch.err"))
        }

        /// What the fetch printed on standard error.
        var fetchError: String { (try? String(contentsOfFile: scratch.child("fetch.err"), encoding: .utf8)) ?? "" }

        func finish() throws {
            fetch.waitUntilExit()
            #expect(fetch.terminationStatus == 0, "\((try? String(contentsOfFile: scratch.child("fetch.err"), encoding: .utf8)) ?? "")")
            #expect(FileComparison.identical(file, output))
        }
    }

    /// The URL a node printed for an endpoint (`metrics on http://…`, `status page on http://…`).
    static func endpoint(_ prefix: String, of node: NodeProcess) throws -> String {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let line = node.log.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw EndpointMissing(prefix: prefix, log: node.log)
    }

    struct EndpointMissing: Error, CustomStringConvertible {
        let prefix: String
        let log: String
        var description: String { "no '\(prefix)' line: \(log)" }
    }

    /// A blocking GET. The tests here are synchronous, as the other CLI tests: an async test
    /// waits for a turn on the cooperative pool at every `await`, which the suite's CPU-bound
    /// tests can hold for longer than a transfer lasts.
    static func get(_ url: String) throws -> (status: Int, type: String, body: String) {
        let request = URLRequest(url: try #require(URL(string: url)), timeoutInterval: 30)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<(Data, URLResponse), any Error> = .failure(URLError(.unknown))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let data, let response { result = .success((data, response)) } else { result = .failure(error ?? URLError(.badServerResponse)) }
            done.signal()
        }.resume()
        done.wait()
        let (data, response) = try result.get()
        let http = try #require(response as? HTTPURLResponse)
        return (http.statusCode, http.value(forHTTPHeaderField: "Content-Type") ?? "", String(decoding: data, as: UTF8.self))
    }

    /// The value of the sample `name` (with its labels, if any) in a Prometheus text exposition.
    static func sample(_ name: String, in exposition: String) -> Double? {
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return Double(parts[1]) }
        }
        return nil
    }

    /// Runs headless Chromium, up to four times more if it crashed on start (it can, on a machine
    /// busy with the rest of the suite); its last failure is the test's.
    static func runBrowser(_ command: [String]) throws -> CommandResult {
        var result = try Peerdist.runTool(command)
        for _ in 0..<4 where result.status != 0 {
            // Seen while the whole suite ran in parallel (scripts/test runs this test apart): a
            // crash at start, before the browser opened anything.
            Thread.sleep(forTimeInterval: 2)
            result = try Peerdist.runTool(command)
        }
        return result
    }

    /// The metrics of a node in a network namespace, whose endpoint listens on that namespace's
    /// loopback: scraped from inside it.
    static func scrape(_ node: NodeProcess, in namespace: String) throws -> String {
        let url = try endpoint("metrics on ", of: node)
        let result = try Peerdist.runTool(
            ["python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())", url],
            namespace: namespace)
        #expect(result.status == 0, "\(result.standardError)")
        return result.standardOutput
    }

    /// Polls `body` until it returns a value, for at most `seconds`, or while `process` runs.
    static func eventually<Value>(_ seconds: Double = 60, whileRunning process: Process? = nil, _ body: () throws -> Value?) rethrows -> Value? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.map(\.isRunning) ?? (Date() < deadline) {
            if let value = try body() { return value }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return try body()
    }

    @Test func metricsAreScrapedDuringATransfer() throws {
        let transfer = try Transfer(seederArguments: ["--metrics", "0"], leecherArguments: ["--metrics", "127.0.0.1:0"])
        let seederMetrics = try Self.endpoint("metrics on ", of: transfer.seeder)
        let leecherMetrics = try Self.endpoint("metrics on ", of: transfer.leecher)
        #expect(seederMetrics.hasPrefix("http://127.0.0.1:"), "a port alone listens on loopback")

        // Mid-transfer: one fetch under way, some but not all of its bytes in. Looked for as long
        // as the fetch runs, however slowly a loaded machine starts it.
        var last = ""
        let during = try Self.eventually(whileRunning: transfer.fetch) { () -> String? in
            let scraped = try Self.get(leecherMetrics)
            last = scraped.body
            let received = Self.sample("peerdist_block_bytes_received_total", in: scraped.body) ?? 0
            return Self.sample("peerdist_transfers_active", in: scraped.body) == 1 && received > 0 ? scraped.body : nil
        }
        let midway = try #require(during, """
            the leecher's metrics never showed the transfer under way; the fetch: \(transfer.fetchError)
            the last scrape: \(last)
            """)
        #expect((Self.sample("peerdist_block_bytes_received_total", in: midway) ?? 0) < Double(Self.size))
        #expect((Self.sample("peerdist_blocks_verified_total", in: midway) ?? 0) > 0)
        let seederScrape = try Self.get(seederMetrics)
        #expect(seederScrape.status == 200)
        #expect(seederScrape.type.hasPrefix("text/plain; version=0.0.4"))
        #expect((Self.sample("peerdist_block_bytes_sent_total", in: seederScrape.body) ?? 0) > 0)
        #expect(Self.sample("peerdist_store_published_bytes", in: seederScrape.body) == Double(Self.size))
        #expect(seederScrape.body.contains("# TYPE peerdist_block_bytes_sent_total counter"))

        try transfer.finish()
        let after = try Self.get(leecherMetrics).body
        #expect(Self.sample("peerdist_block_bytes_received_total", in: after) == Double(Self.size))
        #expect(Self.sample("peerdist_blocks_verified_total", in: after) == Double(Self.size / 65_536))
        #expect(Self.sample("peerdist_blocks_rejected_total", in: after) == 0)
        #expect(Self.sample("peerdist_transfers_active", in: after) == 0)
        #expect(Self.sample("peerdist_transfers_total{result=\"complete\"}", in: after) == 1)
        #expect(Self.sample("peerdist_transfer_duration_seconds_count", in: after) == 1)
        #expect(after.contains("# TYPE peerdist_transfer_duration_seconds histogram"))
        #expect(Self.sample("peerdist_store_cached_bytes", in: after) == Double(Self.size))
        // The seeder sent every byte the leecher received, and the scrape after the transfer
        // adds to what the one during it exported, never restarts.
        let sent = try Self.get(seederMetrics).body
        #expect(Self.sample("peerdist_block_bytes_sent_total", in: sent) == Double(Self.size))
        #expect(try Self.get(leecherMetrics.replacingOccurrences(of: "/metrics", with: "/other")).status == 404)
    }

    /// Metrics of a fetch found by LAN discovery between two hosts: the question and its answer
    /// counted on both sides, and each node seeing the other.
    @Test(.needsNetworkHosts) func discoveryIsCountedOnBothSides() throws {
        let hosts = try NetworkHosts(count: 2)
        let (scratch, file, seeder, uri) = try PublishFetchTests.published(
            size: 1024 * 1024, seed: 21, listen: "[::]:0", namespace: hosts.first, extraArguments: ["--metrics", "0"])
        defer { seeder.stop() }
        let leecher = try NodeProcess(dataDirectory: scratch.child("leecher"), listen: "[::]:0", namespace: hosts.second, extraArguments: ["--metrics", "0"])
        defer { leecher.stop() }
        let output = scratch.child("fetched")
        // Through the leecher's control socket: the running node asks the link.
        let fetch = try Peerdist.run(["fetch", uri, "--data-dir", leecher.dataDirectory, "-o", output])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))

        let asked = try Self.scrape(leecher, in: hosts.second)
        let answered = try Self.scrape(seeder, in: hosts.first)
        #expect((Self.sample("peerdist_discovery_queries_sent_total", in: asked) ?? 0) >= 1, "\(asked)")
        #expect((Self.sample("peerdist_discovery_answers_received_total", in: asked) ?? 0) >= 1)
        #expect((Self.sample("peerdist_discovery_queries_received_total", in: answered) ?? 0) >= 1, "\(answered)")
        #expect((Self.sample("peerdist_discovery_answers_sent_total", in: answered) ?? 0) >= 1)
        #expect(Self.sample("peerdist_peers_seen", in: asked) == 1)
        #expect(Self.sample("peerdist_peers_seen", in: answered) == 1)
        #expect(Self.sample("peerdist_block_bytes_received_total", in: asked) == Double(1024 * 1024))
        #expect(Self.sample("peerdist_block_bytes_sent_total", in: answered) == Double(1024 * 1024))
    }

    /// People: Bob watches Alice; his metrics and his status page's JSON say she is online.
    @Test(.needsNetworkHosts) func watchedContactsAppearInMetricsAndOnThePage() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let (alice, bob, _) = try CollaborationTests.threePeople(hosts: hosts, scratch: scratch, serving: ["--metrics", "0", "--web", "0"])
        let alicePrint = try alice.fingerprint
        try CollaborationTests.eventually("Bob never saw Alice online") { try CollaborationTests.status(of: alicePrint, seenBy: bob) == "online" }
        let bobsNode = try #require(bob.node)
        let metrics = try Self.scrape(bobsNode, in: bob.namespace)
        // Alice, the one contact Bob has, is watched and reachable.
        #expect(Self.sample("peerdist_contacts_watched", in: metrics) == 1, "\(metrics)")
        #expect(Self.sample("peerdist_contacts_online", in: metrics) == 1)
        let page = try Self.endpoint("status page on ", of: bobsNode)
        let state = try Peerdist.runTool(
            ["python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())", page + "status.json"],
            namespace: bob.namespace)
        let object = try #require(try JSONSerialization.jsonObject(with: state.output) as? [String: Any])
        #expect(object["name"] as? String == "Bob")
        let people = try #require(object["presence"] as? [[String: Any]])
        #expect(people.contains { $0["name"] as? String == "Alice" && $0["status"] as? String == "online" && $0["me"] as? Bool == false })
    }

    @Test func statusPageShowsTheTransferInChromium() throws {
        // Slow enough to be under way whenever the browser, however slow to start, looks; the
        // fetch is stopped rather than finished afterwards.
        let transfer = try Transfer(size: 8 * 1024 * 1024, uploadLimit: "128KiB", leecherArguments: ["--web", "0"])
        defer {
            transfer.fetch.terminate()
            transfer.fetch.waitUntilExit()
        }
        let page = try Self.endpoint("status page on ", of: transfer.leecher)
        let fingerprint = try #require(
            transfer.leecher.log.split(separator: "\n").first { $0.hasPrefix("node ") }?.split(separator: " ").dropFirst().first)
        // Under way before the browser looks.
        _ = try Self.eventually {
            let body = try Self.get(page + "status.json").body
            return body.contains("\"transfers\":[{") && body.contains("\"peer\":\"") ? true : nil
        }

        let profile = transfer.scratch.child("chromium")
        let screenshot = transfer.scratch.child("status.png")
        // /dev/shm may be small or shared with other tests' processes: Chromium keeps its shared
        // memory in the profile's temporary directory instead.
        let browser = [
            // The browser itself rather than Debian's launcher, whose /dev/shm check misreads a
            // namespace's mounts; no zygote or crash reporter, which only add processes to fail.
            "/usr/lib/chromium/chromium", "--headless", "--no-sandbox", "--no-zygote", "--disable-crash-reporter", "--disable-breakpad",
            "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(profile)",
            "--virtual-time-budget=3000",
        ]
        let dom = try Self.runBrowser(browser + ["--dump-dom", page])
        #expect(dom.status == 0, "\(dom.standardError)")
        let html = dom.standardOutput
        // What the script drew: the node's identity and a transfer row with its progress.
        #expect(html.contains("<code id=\"fingerprint\">\(fingerprint)</code>"), "\(html)")
        let row = try #require(html.range(of: "<tr class=\"transfer\""), "no transfer row in \(html)")
        let rowHTML = String(html[row.lowerBound...].prefix { $0 != "\n" }.prefix(2000))
        #expect(rowHTML.contains("<progress"))
        let percent = rowHTML.firstMatch(of: /data-percent="(\d+)"/).flatMap { Int($0.output.1) }
        #expect(percent.map { (0..<100).contains($0) } == true, "\(rowHTML)")
        #expect(rowHTML.contains(transfer.seeder.address), "the row names the peer: \(rowHTML)")

        let shot = try Self.runBrowser(browser + ["--window-size=1100,900", "--screenshot=\(screenshot)", page])
        #expect(shot.status == 0, "\(shot.standardError)")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(transfer.fetch.isRunning, "the transfer was still under way while the browser looked")
    }

    /// An endpoint that cannot be opened stops `serve` with one line naming it; `--json`
    /// announces the endpoints' URLs.
    @Test func endpointsAnnouncedAndBindFailuresExplained() throws {
        let scratch = try ScratchDirectory()
        // NodeProcess waits for the text announcement; this one prints JSON.
        let first = Process()
        first.executableURL = Peerdist.binary
        first.arguments = ["serve", "--data-dir", scratch.child("first"), "--listen", "[::1]:0", "--metrics", "0", "--web", "0", "--json"]
        try first.run(output: scratch.child("first.out"), error: scratch.child("first.err"))
        defer {
            first.terminate()
            first.waitUntilExit()
        }
        let announced = try #require(Self.eventually(20) {
            // One JSON object, whole once its closing brace is out.
            (try? String(contentsOfFile: scratch.child("first.out"), encoding: .utf8)).flatMap { $0.hasSuffix("}\n") ? $0 : nil }
        }, "\((try? String(contentsOfFile: scratch.child("first.err"), encoding: .utf8)) ?? "")")
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(announced.utf8)) as? [String: String])
        let metrics = try #require(fields["metrics"])
        #expect(metrics.hasPrefix("http://127.0.0.1:") && metrics.hasSuffix("/metrics"), "\(fields)")
        #expect(fields["web"]?.hasSuffix("/") == true)

        let port = try #require(URL(string: metrics)?.port)
        let second = try Peerdist.run("serve", "--data-dir", scratch.child("second"), "--listen", "[::1]:0", "--metrics", "\(port)")
        #expect(second.status == 1)
        #expect(second.errorLines.count == 1)
        #expect(second.errorLines.first?.hasPrefix("Error: --metrics: cannot listen on 127.0.0.1 port \(port): ") == true, "\(second.standardError)")
        let bad = try Peerdist.run("serve", "--data-dir", scratch.child("second"), "--web", "[::1]")
        #expect(bad.errorLines == ["Error: --web takes [address]:port or a port, e.g. 8740, 127.0.0.1:8740 or [::]:8740."])
    }

    @Test func configurationFileSetsServeOptionsAndFlagsWin() throws {
        let scratch = try ScratchDirectory()
        let directory = scratch.child("node")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/peerdist.toml"
        try """
        # settings of this node
        quota = "2GiB"
        listen = "[::1]:9"

        web = "127.0.0.1:0"
        verbose = true
        """.write(toFile: file, atomically: true, encoding: .utf8)

        let shown = try Peerdist.run("config", "show", "--data-dir", directory, "--json", "--quota", "3GiB")
        #expect(shown.status == 0, "\(shown.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: shown.output) as? [String: Any])
        let settings = try #require(report["settings"] as? [[String: Any]])
        func setting(_ key: String) -> [String: Any]? { settings.first { $0["key"] as? String == key } }
        #expect(setting("quota")?["value"] as? String == "3GiB")
        #expect(setting("quota")?["source"] as? String == "flag")
        #expect(setting("listen")?["value"] as? String == "[::1]:9")
        #expect(setting("listen")?["source"] as? String == "file")
        #expect(setting("listen")?["line"] as? Int == 3)
        #expect(setting("web")?["line"] as? Int == 5)
        #expect(setting("verbose")?["value"] as? String == "true")
        #expect(setting("http-listen")?["value"] as? String == "[::]:8080")
        #expect(setting("http-listen")?["source"] as? String == "default")
        #expect(setting("data-dir") == nil)
        let text = try Peerdist.run("config", "show", "--data-dir", directory)
        #expect(text.standardOutput.contains("# \(file):3"))

        // `serve` reads the file (the status page it asks for opens) and its --listen wins
        // over the file's port 9.
        let node = try NodeProcess(dataDirectory: directory)
        defer { node.stop() }
        #expect(node.port != "9")
        let page = try Self.endpoint("status page on ", of: node)
        #expect(try Self.get(page).body.contains("<title>PeerDist node</title>"))
    }

    @Test(arguments: [
        ("quota = \"lots\"\n", ":1: quota: The value 'lots' is invalid for '--quota <quota>'; expected: Largest size"),
        ("# a comment\n\nmetrics = \"nowhere\"\n", ":3: metrics: --metrics takes [address]:port or a port"),
        ("verbose = \"yes\"\n", ":1: verbose: expected true or false, found a string"),
        ("quota = true\n", ":1: quota: expected a value for --quota, found a boolean"),
        ("listen = [\"[::]:1\"]\n", ":1: listen: expected a string, a number or a boolean, found an array"),
        ("quota = \"1GiB\"\nbogus = 1\n", ":2: unknown setting 'bogus'; expected one of"),
        ("data-dir = \"/tmp\"\n", ":1: unknown setting 'data-dir' (the file is in the data directory"),
        ("[serve]\nquota = \"1GiB\"\n", ":1: [serve]: expected settings at the top level"),
        ("quota = \n", ":1: not TOML"),
    ])
    func badSettingsAreRefusedWithFileAndLine(contents: String, expected: String) throws {
        let scratch = try ScratchDirectory()
        let directory = scratch.child("node")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/peerdist.toml"
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        for command in [["serve", "--data-dir", directory, "--listen", "[::1]:0"], ["config", "show", "--data-dir", directory]] {
            let result = try Peerdist.run(command)
            #expect(result.status != 0)
            #expect(result.errorLines == ["Error: \(file)\(expected)"[...]] || result.errorLines.first?.hasPrefix("Error: \(file)\(expected)") == true,
                    "\(command[0]): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1, "one line: \(result.standardError)")
        }
    }
}
