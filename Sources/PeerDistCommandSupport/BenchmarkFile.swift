import Foundation

/// A file of pseudo-random bytes (incompressible, so no layer below can shortcut it).
package enum BenchmarkFile {
    package static func write(path: String, size: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure("\(path): cannot create the benchmark file")
        }
        defer { try? handle.close() }
        var state: UInt64 = 0x853C_49E6_748F_EA9B
        var chunk = [UInt64](repeating: 0, count: 1 << 20)
        var remaining = size
        while remaining > 0 {
            for index in chunk.indices {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                chunk[index] = z ^ (z >> 31)
            }
            let count = min(remaining, chunk.count * 8)
            try chunk.withUnsafeBytes { try handle.write(contentsOf: Data($0.prefix(count))) }
            remaining -= count
        }
    }
}
