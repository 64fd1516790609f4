import Foundation

/// Reproducible test content: pseudo-random bytes from a seed (SplitMix64), or the vectors'
/// `i mod 251` pattern. Generated a word at a time so even a debug build makes 100 MiB quickly.
enum TestContent {
    static func random(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.count / 8
            let base = raw.baseAddress!
            for index in 0..<words {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                base.storeBytes(of: z ^ (z >> 31), toByteOffset: index * 8, as: UInt64.self)
            }
            for index in words * 8..<raw.count { raw[index] = UInt8(truncatingIfNeeded: index &* 31 &+ Int(seed)) }
        }
        return bytes
    }

    static func modulo251(count: Int) -> [UInt8] {
        let pattern = (0..<251).map { UInt8($0) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes += pattern.prefix(count - bytes.count) }
        return bytes
    }

    /// A temporary file holding `bytes`, removed by the caller.
    static func file(_ bytes: [UInt8], name: String = "content") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent())
    }
}
