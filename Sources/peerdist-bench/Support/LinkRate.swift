import ArgumentParser

/// A link rate in `tc`'s notation (`1gbit`, `100mbit`, `125mbps`): handed to `tc` as written,
/// and also understood here, to compute the time an ideal transfer would take.
struct LinkRate: ExpressibleByArgument, CustomStringConvertible {
    let text: String
    let bitsPerSecond: Double

    init?(argument: String) {
        // tc's units: "bit" and a bare number are bits per second, "bps" bytes per second.
        let units: [(String, Double)] = [
            ("tbit", 1e12), ("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1),
            ("tbps", 8e12), ("gbps", 8e9), ("mbps", 8e6), ("kbps", 8e3), ("bps", 8),
        ]
        let lowercased = argument.lowercased()
        let (number, multiplier) = units.first { lowercased.hasSuffix($0.0) }.map { (String(lowercased.dropLast($0.0.count)), $0.1) } ?? (lowercased, 1)
        guard let value = Double(number), value > 0 else { return nil }
        text = lowercased
        bitsPerSecond = value * multiplier
    }

    var description: String { text }

    /// Seconds to carry `bytes` at this rate, counting no protocol overhead at all.
    func seconds(for bytes: Int) -> Double { Double(bytes) * 8 / bitsPerSecond }
}
