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
