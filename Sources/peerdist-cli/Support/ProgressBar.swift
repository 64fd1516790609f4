import Foundation
import PeerDistCommandSupport

/// A one-line progress display on standard error: bar, percent, rate and time left, redrawn at
/// most ten times a second on a terminal; plain lines at each quarter when standard error is a
/// file or pipe.
final class ProgressBar: @unchecked Sendable {
    // Safety: every method runs under `lock`.
    private let lock = NSLock()
    private let label: String
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var lastQuarter = -1
    private var startBytes: UInt64?

    init(label: String) {
        self.label = label
    }

    func update(done: UInt64, total: UInt64) {
        lock.withLock {
            if startBytes == nil { startBytes = done }
            let fraction = total == 0 ? 1 : Double(done) / Double(total)
            if isTerminal {
                guard ContinuousClock.now - lastDraw >= .milliseconds(100) || done == total else { return }
                lastDraw = .now
                write("\r\u{1B}[2K" + line(done: done, total: total, fraction: fraction))
            } else {
                let quarter = Int(fraction * 4)
                guard quarter > lastQuarter else { return }
                lastQuarter = quarter
                write(line(done: done, total: total, fraction: fraction) + "\n")
            }
        }
    }

    func finish() {
        lock.withLock {
            if isTerminal { write("\n") }
        }
    }

    private func line(done: UInt64, total: UInt64, fraction: Double) -> String {
        let elapsed = ContinuousClock.now - start
        let seconds = max(0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let rate = Double(done - (startBytes ?? 0)) / seconds
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        return "\(label) [\(bar)] \(Int(fraction * 100))% \(ByteCount.format(Int(done)))/\(ByteCount.format(Int(total))) "
            + "\(ByteCount.format(Int(rate)))/s ETA \(Self.duration(remaining))"
    }

    private static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        return whole >= 3600 ? "\(whole / 3600)h\(whole % 3600 / 60)m" : whole >= 60 ? "\(whole / 60)m\(whole % 60)s" : "\(whole)s"
    }

    private func write(_ text: String) {
        Output.write(text, to: STDERR_FILENO)
    }
}
