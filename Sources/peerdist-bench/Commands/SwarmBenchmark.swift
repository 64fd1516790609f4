import ArgumentParser
import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// One file from one seeder to several leechers at once, by peerdist and by the usual ways of
/// doing it (plain HTTP, rsync, BitTorrent), on the same hosts in the same run: the time until
/// the last leecher has it, the CPU it took on every side, and how much the seeder had to send.
struct SwarmBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Distribute one file from a seeder to several leechers by peerdist, HTTP, rsync and BitTorrent.",
        discussion: """
            Needs root: hosts are network namespaces on one bridge (removed at the end), and CPU time \
            is counted in a control group per method. Reports medians per method: time until the last \
            leecher holds the whole file, CPU seconds of every process of the method on both sides \
            (also per GiB delivered), and the bytes the seeder sent; then peerdist's figures divided \
            by each baseline's. The method `copy` is a floor: every leecher copies the file with \
            cp, no network. Draws every leecher's progress to a PNG.
            """
    )

    @Option(help: "Size of the file.")
    var size = ByteCount(bytes: 512 << 20)

    @Option(help: "Number of leechers.")
    var leechers = 3

    @Option(help: ArgumentHelp("Shape every link to this rate, both ways (tc notation, e.g. 1gbit); also prints the ideal time.", valueName: "rate"))
    var rate: LinkRate?

    @OptionGroup var methodRuns: MethodRuns<SwarmMethodKind>

    @Option(help: ArgumentHelp("Give up on one run of a method after this many seconds, and report it as failed.", valueName: "seconds"))
    var timeout = 300

    @Option(help: ArgumentHelp("Where to write the progress plot (PNG).", valueName: "path"))
    var plot = "swarm-progress.png"

    func validate() throws {
        guard size.bytes > 0, methodRuns.runs >= 1, timeout >= 1 else { throw ValidationError("--size, --runs and --timeout must be positive.") }
        guard (1...50).contains(leechers) else { throw ValidationError("--leechers must be between 1 and 50.") }
        // Checked now rather than after every method has run.
        let plotDirectory = URL(fileURLWithPath: plot).standardizedFileURL.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: plotDirectory) else { throw ValidationError("--plot: no directory \(plotDirectory).") }
    }

    func run() throws {
        let methods = methodRuns.selected
        let interruption = try NamespaceBenchmark.begin("swarm", requiring: methods.flatMap(\.requiredTools) + [RequiredTool("gnuplot", package: "gnuplot-nox")])
        defer { interruption.cancel() }

        let network = try NetworkHosts(count: 1 + leechers, rate: rate?.text, ipv4: methods.contains(.bittorrent))
        defer { network.tearDown() }
        // In memory, so that the network and the programs are measured rather than this machine's disk.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let work = "\(base)/peerdist-swarm-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let content = "\(work)/content/content.bin"
        try FileManager.default.createDirectory(atPath: "\(work)/content", withIntermediateDirectories: true)
        try BenchmarkFile.write(path: content, size: size.bytes)
        let executable = try PeerdistBinary.path()

        var results: [SwarmTrial<SwarmMethodKind>.Result] = []
        for (round, method) in methodRuns.schedule {
            Output.error("run \(round)/\(methodRuns.runs): \(method.title)…")
            let setup = SwarmSetup(
                network: network, seeder: network.hosts[0], leechers: Array(network.hosts.dropFirst()),
                content: content, contentSize: size.bytes, directory: "\(work)/\(method.rawValue)-\(round)", executable: executable)
            let trial = SwarmTrial(method: method, setup: setup, trialName: "peerdist-swarm-\(getpid())-\(method.rawValue)-\(round)", limit: .seconds(timeout))
            let result = try trial.run()
            Output.error("  " + (result.seconds.map { String(format: "%.2f s", $0) } ?? "failed: \(result.failure ?? "")"))
            results.append(result)
        }

        let report = SwarmReport(results: results, methods: methods, contentSize: size.bytes, leechers: leechers, rate: rate, runs: methodRuns.runs)
        report.print()
        let plotPath = URL(fileURLWithPath: plot).standardizedFileURL.path
        let link = rate.map { ", \($0) links" } ?? ""
        let caption = "\(ByteCount.format(size.bytes)) from 1 seeder to \(leechers) leechers\(link)"
        try SwarmProgressPlot.draw(results, methods: methods, contentSize: size.bytes, caption: caption, to: plotPath, scratch: work)
        Output.line()
        Output.line("progress plot: \(plotPath)")
    }
}
