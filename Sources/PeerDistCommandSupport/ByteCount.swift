import ArgumentParser
import Foundation

/// A size written as `1GiB`, `512MiB`, `64KiB`, `100MB` or a plain number of bytes.
package struct ByteCount: ExpressibleByArgument, CustomStringConvertible {
    package let bytes: Int

    package init(bytes: Int) { self.bytes = bytes }

    package init?(argument: String) {
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1),
        ]
        let text = argument.trimmingCharacters(in: .whitespaces)
        let (number, multiplier) = units.first { text.hasSuffix($0.0) }.map { (String(text.dropLast($0.0.count)), $0.1) } ?? (text, 1)
        guard let value = Double(number), value >= 0, value * Double(multiplier) < Double(Int.max) else { return nil }
        bytes = Int(value * Double(multiplier))
    }

    package var description: String { Self.format(bytes) }

    package static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
