import Foundation
import PeerDistCommandSupport

/// A PNG of every leecher's progress, one panel per method (x: seconds since the start, y: percent
/// of the file held, one line per leecher), drawn by gnuplot from a script written here. All
/// panels share the x axis so that their speeds compare at a glance.
enum SwarmProgressPlot {
    /// Plots, for each method, its run of median time (or its first run when none succeeded).
    static func draw<Kind: SwarmMethodChoice>(_ results: [SwarmTrial<Kind>.Result], methods: [Kind], contentSize: Int, caption: String, to path: String, scratch: String) throws {
        let shown: [SwarmTrial<Kind>.Result] = methods.compactMap { method in
            let mine = results.filter { $0.method == method }
            let good = mine.filter { $0.seconds != nil }.sorted { ($0.seconds ?? 0) < ($1.seconds ?? 0) }
            return good.isEmpty ? mine.first : good[good.count / 2]
        }
        guard !shown.isEmpty else { return }
        let longest = shown.flatMap { $0.progress.compactMap(\.last?.seconds) }.max() ?? 1
        let columns = min(2, shown.count)
        let rows = (shown.count + columns - 1) / columns

        var script = """
            set terminal pngcairo size \(640 * columns),\(420 * rows + 40) font ",10"
            set output '\(quoted(path))'
            set xlabel "seconds"
            set ylabel "% of the file held"
            set xrange [0:\(String(format: "%.3f", longest * 1.02))]
            set yrange [0:105]
            set key bottom right
            set grid
            set multiplot layout \(rows),\(columns) title '\(quoted(caption))'

            """
        for (panel, result) in shown.enumerated() {
            for (leecher, samples) in result.progress.enumerated() {
                script += "$m\(panel)l\(leecher) << EOD\n"
                for sample in samples {
                    script += String(format: "%.3f %.2f\n", sample.seconds, 100 * Double(sample.bytes) / Double(max(1, contentSize)))
                }
                script += "EOD\n"
            }
            let outcome = result.seconds.map { String(format: "%.2f s", $0) } ?? "failed"
            script += "set title '\(quoted("\(result.method.title): \(outcome)"))'\n"
            let lines = result.progress.indices.map { "$m\(panel)l\($0) using 1:2 with lines linewidth 2 title 'leecher \($0 + 1)'" }
            // A method that failed before any leecher started has nothing to draw; gnuplot still needs a plot.
            script += "plot " + (lines.isEmpty ? "NaN title 'no data'" : lines.joined(separator: ", ")) + "\n"
        }
        script += "unset multiplot\n"

        let scriptPath = "\(scratch)/progress.gnuplot"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        do {
            try ChildProcess.run(["gnuplot", scriptPath])
        } catch {
            throw CommandFailure("gnuplot could not draw \(path): \(error)")
        }
    }

    /// For gnuplot's single-quoted strings, in which only the quote itself is special.
    private static func quoted(_ text: String) -> String {
        text.replacingOccurrences(of: "'", with: "''")
    }
}
