import Foundation
import PeerDistCommandSupport

/// The results table of `peerdist-bench swarm`: medians per method over the runs that succeeded,
/// then peerdist's figures divided by each baseline's.
struct SwarmReport {
    /// One method's medians.
    struct Summary {
        let method: SwarmMethodKind
        let outcome: RunSummary<SwarmTrial<SwarmMethodKind>.Result>

        var seconds: Double? { outcome.seconds }
        var cpuSeconds: Double? { outcome.cpuSeconds }
        var seederSentBytes: Int? { outcome.median(\.seederSentBytes) }
        var seederRetransmissions: Int? { outcome.median(\.seederRetransmissions) }
        var peakResidentBytes: Int? { outcome.median(\.peakResidentBytes) }
    }

    let contentSize: Int
    let leechers: Int
    let rate: LinkRate?
    let runs: Int
    let summaries: [Summary]

    init(results: [SwarmTrial<SwarmMethodKind>.Result], methods: [SwarmMethodKind], contentSize: Int, leechers: Int, rate: LinkRate?, runs: Int) {
        self.contentSize = contentSize
        self.leechers = leechers
        self.rate = rate
        self.runs = runs
        summaries = methods.map { method in Summary(method: method, outcome: RunSummary(results.filter { $0.method == method })) }
    }

    /// Gibibytes that reached leechers in one run: every leecher got the whole file.
    private var deliveredGiB: Double { Double(leechers * contentSize) / Double(1 << 30) }

    func print() {
        let link = rate.map { "a \($0) link each way" } ?? "unshaped veth links"
        Output.line("swarm: \(ByteCount.format(contentSize)) from 1 seeder to \(leechers) leechers, network namespaces on one bridge, \(link); median of \(runs) run\(runs == 1 ? "" : "s")")
        Output.line("time: start of all leechers until the last holds the whole file (checked byte for byte afterwards)")
        Output.line("CPU: user + system seconds of every process of the method on both sides (one control group per method and run)")
        Output.line("seeder sent: tx_bytes of the seeder's interface, headers and TCP retransmissions (retrans, in segments) included")
        Output.line("peak RSS: the largest peak resident memory of one process of the method (a node, the seeder, a daemon)")
        let ideal = rate?.seconds(for: contentSize)
        if let ideal {
            Output.line(String(format: "ideal time (size ÷ link rate): %.2f s", ideal))
        }
        Output.line()
        var header = "method".padded(22) + "  time s"
        if ideal != nil { header += "  × ideal" }
        header += "    CPU-s  CPU-s/GiB  seeder sent  × size  retrans   peak RSS  runs ok"
        Output.line(header)
        for summary in summaries {
            guard let seconds = summary.seconds, let cpu = summary.cpuSeconds, let sent = summary.seederSentBytes else {
                Output.line(summary.method.title.padded(22) + "  failed: \(summary.outcome.failure ?? "no run finished")")
                continue
            }
            var row = summary.method.title.padded(22) + String(format: "  %6.2f", seconds)
            if let ideal { row += String(format: "  %7.2f", seconds / ideal) }
            row += String(format: "  %7.2f  %9.2f", cpu, cpu / deliveredGiB)
            row += "  " + ByteCount.format(sent).leftPadded(11) + String(format: "  %6.2f", Double(sent) / Double(contentSize))
            row += "  " + "\(summary.seederRetransmissions ?? 0)".leftPadded(7)
            row += "  " + ByteCount.format(summary.peakResidentBytes ?? 0).leftPadded(9)
            row += "  \(summary.outcome.succeeded)/\(summary.outcome.runs)".leftPadded(9)
            Output.line(row)
            if summary.outcome.succeeded < summary.outcome.runs, let failure = summary.outcome.failure {
                Output.line("".padded(22) + "  a run failed: \(failure)")
            }
        }
        printRatios()
    }

    private func printRatios() {
        guard let ours = summaries.first(where: { $0.method == .peerdist }), let time = ours.seconds, let cpu = ours.cpuSeconds, let sent = ours.seederSentBytes else { return }
        let baselines = summaries.filter { $0.method != .peerdist && $0.seconds != nil }
        guard !baselines.isEmpty else { return }
        Output.line()
        Output.line("peerdist ÷ baseline (below 1: peerdist takes less)")
        Output.line("baseline".padded(22) + "    time  CPU-s/GiB  seeder sent")
        for baseline in baselines {
            guard let theirTime = baseline.seconds, let theirCPU = baseline.cpuSeconds, let theirSent = baseline.seederSentBytes else { continue }
            // The local copy sends nothing: no ratio of bytes sent.
            let sentRatio = baseline.method == .copy ? "—" : String(format: "%.2f", Double(sent) / Double(max(theirSent, 1)))
            Output.line(baseline.method.title.padded(22)
                + String(format: "  %6.2f  %9.2f", time / theirTime, cpu / max(theirCPU, 0.001)) + "  " + sentRatio.leftPadded(11))
        }
    }
}

extension SwarmTrial.Result: MeasuredRun {}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
