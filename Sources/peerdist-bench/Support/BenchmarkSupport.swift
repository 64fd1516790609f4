import ArgumentParser
import Foundation
import PeerDistCommandSupport

/// Figures over a benchmark's runs.
enum Statistics {
    /// The middle value (the mean of the middle two for an even count); `nil` for no values.
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// One timed run of a method, as the reports count it.
protocol MeasuredRun {
    /// `nil` when the run failed.
    var seconds: Double? { get }
    var failure: String? { get }
    var cpuSeconds: Double { get }
}

/// One method's runs as a report gives them: how many ran and how many succeeded, medians over
/// those that succeeded, and why the first that failed did.
struct RunSummary<Run: MeasuredRun> {
    let runs: Int
    let succeeded: Int
    let seconds: Double?
    let cpuSeconds: Double?
    /// Why the runs that failed did (the first reason).
    let failure: String?
    private let good: [Run]

    init(_ runs: [Run]) {
        good = runs.filter { $0.seconds != nil }
        self.runs = runs.count
        succeeded = good.count
        seconds = Statistics.median(good.compactMap(\.seconds))
        cpuSeconds = Statistics.median(good.map(\.cpuSeconds))
        failure = runs.first { $0.failure != nil }?.failure
    }

    /// The median of `figure` over the runs that succeeded (those that have it).
    func median(_ figure: (Run) -> Double?) -> Double? {
        Statistics.median(good.compactMap(figure))
    }

    /// The median of `figure` over the runs that succeeded, rounded down.
    func median(_ figure: (Run) -> Int) -> Int? {
        Statistics.median(good.map { Double(figure($0)) }).map { Int($0) }
    }
}

/// Puts every timed run on the same footing with respect to memory the previous run freed.
///
/// In a virtual machine that reports free pages to its host (virtio-balloon free page
/// reporting), writing into memory freed a moment ago is several times cheaper than writing
/// into memory the host has since taken back: here 1.5 GiB into `/dev/shm` took 1.8 s five
/// seconds after a deletion and 4.1 s ten seconds after. Without a pause, the method that runs
/// right after another's files were removed would be measured on cheap pages.
enum FreedMemorySettling {
    private static let parameters = "/sys/module/page_reporting/parameters"
    /// Reporting starts this long after pages are freed.
    private static let reportingDelay: Duration = .seconds(2)
    /// Where the kernel shows how much it has reported: settled once this stops moving.
    private static let stillFor: Duration = .seconds(2)
    private static let longest: Duration = .seconds(30)
    /// Where the kernel reports pages but does not count them.
    private static let fixedPause: Duration = .seconds(10)

    static func wait() throws {
        guard FileManager.default.fileExists(atPath: parameters) else { return }
        let started = ContinuousClock.now
        guard var reported = reportedKiB() else { return try sleep(until: started + fixedPause) }
        var lastMove = started
        while true {
            try sleep(until: ContinuousClock.now + .milliseconds(250))
            let now = ContinuousClock.now
            let current = reportedKiB() ?? reported
            if current != reported { (reported, lastMove) = (current, now) }
            if (now - started >= reportingDelay && now - lastMove >= stillFor) || now - started >= longest { return }
        }
    }

    private static func reportedKiB() -> Int? {
        (try? String(contentsOfFile: "\(parameters)/reported_kib", encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    private static func sleep(until end: ContinuousClock.Instant) throws {
        while ContinuousClock.now < end {
            try BenchInterruption.shared.check()
            usleep(50_000)
        }
    }
}

/// `--runs` and `--methods` of a benchmark that compares methods, and the order the runs go in.
struct MethodRuns<Kind: ExpressibleByArgument & CaseIterable & Equatable>: ParsableArguments {
    @Option(help: "Runs of every method; the methods take turns, and medians are reported.")
    var runs = 1

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Methods to run.", valueName: "method"))
    var methods: [Kind] = Array(Kind.allCases)

    /// The methods asked for, each once, in the order of `Kind.allCases`.
    var selected: [Kind] { Kind.allCases.filter(methods.contains) }

    /// Every run of every selected method, in the order they go: each run starts with a different
    /// method, so that none is always first (or last) on a machine whose speed drifts.
    var schedule: [(round: Int, method: Kind)] {
        let methods = selected
        return (1...runs).flatMap { round in
            let first = (round - 1) % methods.count
            return (methods[first...] + methods[..<first]).map { (round, $0) }
        }
    }
}

/// The checks before a benchmark on network namespaces and control groups starts any work.
enum NamespaceBenchmark {
    /// Fails unless this runs as root with iproute2 and `tools` installed; then catches SIGINT
    /// and SIGTERM, until the returned handler is cancelled (see `BenchInterruption`).
    static func begin(_ command: String, requiring tools: [RequiredTool]) throws -> InterruptionHandler {
        guard getuid() == 0 else {
            throw CommandFailure("bench \(command) needs root: it creates network namespaces and control groups")
        }
        let iproute = ["ip", "tc", "ss"].map { RequiredTool($0, package: "iproute2") }
        try RequiredTool.check(iproute + tools)
        return BenchInterruption.shared.catchSignals()
    }
}
