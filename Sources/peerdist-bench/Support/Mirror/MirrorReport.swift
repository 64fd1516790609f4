import Foundation
import PeerDistCommandSupport

/// The results of `peerdist-bench mirror`: a table per phase (medians per method over the runs
/// that succeeded), peerdist's figures divided by rsync's, and whether each goal is met.
struct MirrorReport {
    let methods: [MirrorMethodKind]
    let tree: MirrorTreeLayout
    let changes: MirrorTreeChanges
    /// The tree of small files alone, when that case ran.
    let smallTree: MirrorTreeLayout?
    let followers: Int
    let rate: LinkRate?
    let runs: Int
    /// SHA-256, AES-GCM seal and open per GiB on this machine, measured in the same run.
    let crypto: CryptoFloor?
    /// Processors every host of the run shares.
    let processors: Int
    private let summaries: [MirrorPhase: [MirrorMethodKind: Summary]]

    typealias Summary = RunSummary<MirrorPhaseResult>

    init(
        results: [MirrorPhaseResult], methods: [MirrorMethodKind], tree: MirrorTreeLayout, changes: MirrorTreeChanges, smallTree: MirrorTreeLayout?,
        followers: Int, rate: LinkRate?, runs: Int, crypto: CryptoFloor?, processors: Int
    ) {
        self.crypto = crypto
        self.processors = max(1, processors)
        self.methods = methods
        self.tree = tree
        self.changes = changes
        self.smallTree = smallTree
        self.followers = followers
        self.rate = rate
        self.runs = runs
        var summaries: [MirrorPhase: [MirrorMethodKind: Summary]] = [:]
        for phase in MirrorPhase.allCases {
            for method in methods {
                let mine = results.filter { $0.phase == phase && $0.method == method }
                guard !mine.isEmpty else { continue }
                summaries[phase, default: [:]][method] = Summary(mine)
            }
        }
        self.summaries = summaries
    }

    /// What each follower must receive in a phase, at the least.
    private func payload(_ phase: MirrorPhase) -> Int {
        switch phase {
        case .initial: tree.totalBytes
        case .change: changes.changedBytes
        case .smallFiles: smallTree?.totalBytes ?? 0
        }
    }

    /// CPU seconds that verifying and encrypting add to a phase at the least: every follower
    /// checks the SHA-256 of what it receives and every byte is sealed and opened once on its
    /// way; the publisher hashes what changed once. Counts only what each follower must receive,
    /// not what peerdist sends, so it errs low.
    private func cryptoCPU(_ phase: MirrorPhase) -> Double? {
        guard let crypto else { return nil }
        let gibibytes = Double(payload(phase)) / Double(1 << 30)
        return crypto.total * gibibytes * Double(followers) + crypto.sha256 * gibibytes
    }

    func print() {
        let link = rate.map { "a \($0) link each way" } ?? "unshaped veth links"
        Output.line("mirror: 1 publisher and \(followers) follower\(followers == 1 ? "" : "s"), network namespaces on one bridge, \(link); median of \(runs) run\(runs == 1 ? "" : "s")")
        Output.line("tree: \(tree.summary)")
        Output.line("change: \(changes.summary)")
        if let smallTree { Output.line("small-file tree: \(smallTree.summary)") }
        Output.line("time: from the start of a phase until every follower is up to date (peerdist: `mirror publish` included); trees compared afterwards")
        Output.line("CPU: user + system seconds of every process of the method on every host (a control group per method and run)")
        Output.line("on the wire: bytes sent by all hosts together (tx_bytes of each host's interface, headers included)")
        Output.line("× payload: on the wire ÷ (followers × what each must receive: the tree, or the changed bytes)")
        Output.line("peak RSS: the largest peak resident memory of one process of the method (a node, a daemon), up to the phase's end")

        for phase in MirrorPhase.allCases {
            guard let rows = summaries[phase] else { continue }
            Output.line()
            let amount = ByteCount.format(payload(phase))
            Output.line("\(phase.title): " + (phase == .change ? "\(amount) changed, to every follower" : "the \(amount) tree to every follower"))
            Output.line("method".padded(18) + "   time s     CPU-s  on the wire  × payload   peak RSS  runs ok")
            for method in methods {
                guard let summary = rows[method] else { continue }
                guard let seconds = summary.seconds, let cpu = summary.cpuSeconds, let wire = summary.wireBytes else {
                    Output.line(method.title.padded(18) + "   failed: \(summary.failure ?? "no run finished")")
                    continue
                }
                var row = method.title.padded(18) + String(format: "  %7.2f  %8.2f", seconds, cpu)
                row += "  " + ByteCount.format(wire).leftPadded(11)
                row += String(format: "  %9.2f", Double(wire) / Double(max(1, followers * payload(phase))))
                row += "  " + ByteCount.format(summary.peakResidentBytes ?? 0).leftPadded(9)
                row += "  \(summary.succeeded)/\(summary.runs)".leftPadded(9)
                Output.line(row)
                if let publish = summary.publishSeconds {
                    Output.line("".padded(18) + String(format: "  of which publishing %.2f s", publish))
                }
                if summary.succeeded < summary.runs, let failure = summary.failure {
                    Output.line("".padded(18) + "  a run failed: \(failure)")
                }
            }
        }
        printRatios(against: .rsync, title: "peerdist ÷ rsync (below 1: peerdist takes less)")
        printRatios(against: .copy, title: "peerdist ÷ floor (the local copy)")
        printCryptoFloor()
        printGoals()
    }

    /// rsync's figures plus what verifying and encrypting must add: the floor under peerdist's.
    /// The time adds that CPU spread over the processors every host shares, which is how both
    /// methods run here (their CPU time is close to twice their time, unshaped).
    private func printCryptoFloor() {
        guard let crypto else { return }
        let phases = MirrorPhase.allCases.filter { measured(.rsync, $0) != nil }
        guard !phases.isEmpty else { return }
        Output.line()
        Output.line(String(
            format: "rsync + verifying and encrypting (SHA-256 %.2f, AES-GCM seal and open %.2f CPU-s/GiB here, on every byte each follower receives)",
            crypto.sha256, crypto.aesGCMSealAndOpen))
        Output.line("phase".padded(18) + "  time s     CPU-s  × rsync's time  × rsync's CPU")
        for phase in phases {
            guard let rsync = measured(.rsync, phase), let time = rsync.seconds, let cpu = rsync.cpuSeconds, let added = cryptoCPU(phase) else { continue }
            let floorTime = time + added / Double(processors)
            let floorCPU = cpu + added
            Output.line(phase.title.padded(18) + String(format: "  %6.2f  %8.2f  %14.2f  %13.2f", floorTime, floorCPU, floorTime / time, floorCPU / max(cpu, 0.001)))
        }
    }

    private func measured(_ method: MirrorMethodKind, _ phase: MirrorPhase) -> Summary? {
        guard let summary = summaries[phase]?[method], summary.seconds != nil else { return nil }
        return summary
    }

    /// peerdist's figures divided by `baseline`'s, per phase both measured.
    private func printRatios(against baseline: MirrorMethodKind, title: String) {
        let phases = MirrorPhase.allCases.filter { measured(.peerdist, $0) != nil && measured(baseline, $0) != nil }
        guard !phases.isEmpty else { return }
        Output.line()
        Output.line(title)
        Output.line("phase".padded(18) + "    time     CPU-s  on the wire")
        for phase in phases {
            guard let ours = measured(.peerdist, phase), let theirs = measured(baseline, phase),
                  let time = ours.seconds, let theirTime = theirs.seconds, let cpu = ours.cpuSeconds, let theirCPU = theirs.cpuSeconds,
                  let wire = ours.wireBytes, let theirWire = theirs.wireBytes
            else { continue }
            let wireRatio = theirWire > 0 ? String(format: "%11.2f", Double(wire) / Double(theirWire)) : "—".leftPadded(11)
            Output.line(phase.title.padded(18) + String(format: "  %6.2f  %8.2f  ", time / theirTime, cpu / max(theirCPU, 0.001)) + wireRatio)
        }
    }

    private func printGoals() {
        Output.line()
        Output.line("goals")
        timeGoal("initial mirror time ≤ 1.0 × rsync's", phase: .initial, limit: 1.0)
        timeGoal("time after the change ≤ 1.0 × rsync's", phase: .change, limit: 1.0)
        let wireGoal = "on the wire after the change ≤ 1.2 × changed"
        if let ours = measured(.peerdist, .change), let wire = ours.wireBytes {
            let ratio = Double(wire) / Double(max(1, followers * changes.changedBytes))
            goal(wireGoal, value: String(format: "%.2f × changed", ratio), met: ratio <= 1.2)
        } else {
            goal(wireGoal, unmeasured: peerdistMissing(.change))
        }
        timeGoal("small-file tree time ≤ 1.0 × rsync's", phase: .smallFiles, limit: 1.0)
        for phase in MirrorPhase.allCases {
            cpuGoal("\(phase.title) CPU ≤ 1.2 × rsync's", phase: phase, limit: 1.2)
        }
        Output.line("(on the wire counts every follower's copy: the goal is per follower, the changed bytes times \(followers))")
    }

    private func timeGoal(_ text: String, phase: MirrorPhase, limit: Double) {
        let added = cryptoCPU(phase).map { $0 / Double(processors) }
        ratioGoal(text, phase: phase, limit: limit, unit: "s", addedByCrypto: added) { $0.seconds }
    }

    private func cpuGoal(_ text: String, phase: MirrorPhase, limit: Double) {
        ratioGoal(text, phase: phase, limit: limit, unit: "CPU-s", addedByCrypto: cryptoCPU(phase)) { $0.cpuSeconds }
    }

    /// A goal on peerdist's `figure` as a ratio to rsync's, with the floors when the goal is
    /// below them: the local copy, and rsync's figure plus `addedByCrypto` (what verifying and
    /// encrypting add to it).
    private func ratioGoal(
        _ text: String, phase: MirrorPhase, limit: Double, unit: String, addedByCrypto: Double?, _ figure: (Summary) -> Double?
    ) {
        guard let ours = measured(.peerdist, phase).flatMap(figure) else { return goal(text, unmeasured: peerdistMissing(phase)) }
        guard let theirs = measured(.rsync, phase).flatMap(figure), theirs > 0 else {
            return goal(text, unmeasured: summaries[phase]?[.rsync] == nil ? "not measured (rsync not run)" : "not measured (rsync failed)")
        }
        let ratio = ours / theirs
        goal(text, value: String(format: "%.2f × rsync's", ratio), met: ratio <= limit)
        let amount = { (value: Double) in String(format: "%.2f", value) + " " + unit }
        if let floor = measured(.copy, phase).flatMap(figure), floor > limit * theirs {
            Output.line("  (the goal, \(amount(limit * theirs)), is below the floor: \(amount(floor)) = " + String(format: "%.2f", floor / theirs) + " × rsync's)")
        }
        if let added = addedByCrypto {
            let floor = theirs + added
            if floor > limit * theirs {
                Output.line("  (the goal is below rsync's figure plus verifying and encrypting: \(amount(floor)) = " + String(format: "%.2f", floor / theirs) + " × rsync's)")
            }
        }
    }

    /// Why peerdist has no figure for `phase`: a failure does not meet the goal.
    private func peerdistMissing(_ phase: MirrorPhase) -> String {
        if summaries[phase]?[.peerdist] != nil { return "not met (peerdist failed)" }
        if !methods.contains(.peerdist) { return "not measured (peerdist not run)" }
        return "not measured (phase not run)"
    }

    private func goal(_ text: String, value: String, met: Bool) {
        Output.line(text.padded(48) + value.padded(18) + (met ? "met" : "not met"))
    }

    private func goal(_ text: String, unmeasured: String) {
        Output.line(text.padded(48) + unmeasured)
    }
}

extension MirrorPhaseResult: MeasuredRun {}

extension RunSummary<MirrorPhaseResult> {
    var wireBytes: Int? { median(\.wireBytes) }
    var publishSeconds: Double? { median(\.publishSeconds) }
    var peakResidentBytes: Int? { median(\.peakResidentBytes) }
}
