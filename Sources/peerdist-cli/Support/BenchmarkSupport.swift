import Foundation

/// Figures over a benchmark's runs.
enum Statistics {
    /// The middle value (the mean of the middle two for an even count); `nil` for no values.
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// OpenSSL's own measurement of a digest's raw speed on 16 KiB buffers, in MB/s.
enum OpenSSLSpeed {
    /// With `processes` above 1, the combined speed of that many processes (`openssl speed -multi`):
    /// the most this machine's cores deliver together.
    static func measure(_ digest: String, processes: Int = 1) -> Double? {
        let multi = processes > 1 ? ["-multi", "\(processes)"] : []
        guard let output = try? Subprocess.run(["openssl", "speed"] + multi + ["-evp", digest, "-bytes", "16384", "-seconds", "3"], captureOutput: true) else {
            return nil
        }
        // The result line reads "sha256   1746973.26k": thousands of bytes per second.
        for line in output.split(separator: "\n") where line.hasPrefix(digest) {
            if let field = line.split(separator: " ").last, field.hasSuffix("k"), let thousands = Double(field.dropLast()) {
                return thousands / 1000
            }
        }
        return nil
    }
}

/// A file of pseudo-random bytes (incompressible, so no layer below can shortcut it).
enum BenchmarkFile {
    static func write(path: String, size: Int) throws {
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
