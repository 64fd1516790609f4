import ArgumentParser
import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// BranchCache's case: an origin web server behind a slow link and N clients on a fast LAN, all
/// wanting the same file at once. `peerdist fetch http://…` in every client (the origin sends
/// Content Information, the clients trade blocks and ask the origin only for what none has)
/// against every client downloading the file plainly from the same origin, in the same run.
struct BranchCacheBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "branchcache",
        abstract: "Fetch one file from a BranchCache origin behind a slow link to N clients on a LAN, against plain downloads.",
        discussion: """
            Needs root: hosts are network namespaces on one bridge (removed at the end). The origin \
            (`peerdist serve --http-origin`) sits behind --origin-rate, the clients on --lan-rate \
            links. For each client count, reports medians per method: time from the start of all \
            clients until the last holds the whole file (checked byte for byte afterwards), that \
            time over the ideal (size ÷ the origin's rate), and the bytes the origin's interface \
            sent (headers included), also over the file's size.
            """
    )

    @Option(help: "Size of the file.")
    var size = ByteCount(bytes: 512 << 20)

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Numbers of clients; each is a trial of its own.", valueName: "n"))
    var clients: [Int] = [3, 7]

    @Option(name: .customLong("origin-rate"), help: ArgumentHelp("The origin's link, both ways (tc notation).", valueName: "rate"))
    var originRate = LinkRate(argument: "100mbit")!

    @Option(name: .customLong("lan-rate"), help: ArgumentHelp("Every client's link, both ways (tc notation).", valueName: "rate"))
    var lanRate = LinkRate(argument: "1gbit")!

    @OptionGroup var methodRuns: MethodRuns<BranchCacheMethodKind>

    @Option(help: ArgumentHelp("Give up on one run of a method after this many seconds, and report it as failed.", valueName: "seconds"))
    var timeout = 600

    func validate() throws {
        guard size.bytes > 0, methodRuns.runs >= 1, timeout >= 1 else { throw ValidationError("--size, --runs and --timeout must be positive.") }
        guard !clients.isEmpty, clients.allSatisfy({ (1...30).contains($0) }) else { throw ValidationError("--clients takes numbers between 1 and 30.") }
    }

    func run() throws {
        let methods = methodRuns.selected
        let interruption = try NamespaceBenchmark.begin("branchcache", requiring: methods.flatMap(\.requiredTools) + [RequiredTool("curl", package: "curl")])
        defer { interruption.cancel() }

        let most = clients.max() ?? 1
        let network = try NetworkHosts(count: 1 + most, rate: lanRate.text)
        defer { network.tearDown() }
        let origin = network.hosts[0]
        try network.shape(origin, to: originRate.text)
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let work = "\(base)/peerdist-branchcache-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let content = "\(work)/content/content.bin"
        try FileManager.default.createDirectory(atPath: "\(work)/content", withIntermediateDirectories: true)
        try BenchmarkFile.write(path: content, size: size.bytes)
        let executable = try PeerdistBinary.path()

        var reports: [(clients: Int, results: [SwarmTrial<BranchCacheMethodKind>.Result])] = []
        for count in clients {
            var results: [SwarmTrial<BranchCacheMethodKind>.Result] = []
            for (round, method) in methodRuns.schedule {
                Output.error("\(count) clients, run \(round)/\(methodRuns.runs): \(method.title)…")
                let setup = SwarmSetup(
                    network: network, seeder: origin, leechers: Array(network.hosts[1...count]),
                    content: content, contentSize: size.bytes, directory: "\(work)/\(count)-\(method.rawValue)-\(round)", executable: executable)
                let trial = SwarmTrial(
                    method: method, setup: setup, trialName: "peerdist-branchcache-\(getpid())-\(count)-\(method.rawValue)-\(round)", limit: .seconds(timeout))
                let result = try trial.run()
                Output.error("  " + (result.seconds.map { String(format: "%.2f s, origin sent %@", $0, ByteCount.format(result.seederSentBytes)) } ?? "failed: \(result.failure ?? "")"))
                results.append(result)
            }
            reports.append((count, results))
        }
        print(reports, methods: methods)
    }

    private func print(_ reports: [(clients: Int, results: [SwarmTrial<BranchCacheMethodKind>.Result])], methods: [BranchCacheMethodKind]) {
        let ideal = originRate.seconds(for: size.bytes)
        Output.line("branchcache: \(ByteCount.format(size.bytes)) from an origin behind a \(originRate) link to clients on \(lanRate) links, network namespaces on one bridge; median of \(methodRuns.runs) run\(methodRuns.runs == 1 ? "" : "s")")
        Output.line("time: start of all clients until the last holds the whole file; origin sent: tx_bytes of the origin's interface, headers included")
        Output.line(String(format: "ideal time (size ÷ origin rate): %.2f s; goals for peerdist: origin sent ≤ 1.1 × size, time ≤ 1.3 × ideal", ideal))
        Output.line()
        Output.line("clients  " + "method".padded(24) + "  time s  × ideal  origin sent  × size  runs ok")
        for report in reports {
            for method in methods {
                let outcome = RunSummary(report.results.filter { $0.method == method })
                let prefix = "\(report.clients)".leftPadded(7) + "  " + method.title.padded(24)
                guard let seconds = outcome.seconds, let sent = outcome.median(\.seederSentBytes) else {
                    Output.line(prefix + "  failed: \(outcome.failure ?? "no run finished")")
                    continue
                }
                Output.line(prefix + String(format: "  %6.2f  %7.2f", seconds, seconds / ideal) + "  " + ByteCount.format(sent).leftPadded(11)
                    + String(format: "  %6.2f", Double(sent) / Double(size.bytes)) + "  \(outcome.succeeded)/\(outcome.runs)".leftPadded(9))
            }
        }
    }
}
