import ArgumentParser
import Foundation
import PeerDistHashing
import PeerDistCommandSupport

/// Hashing throughput beside OpenSSL's raw digest speed, `sha256sum` and `b3sum`, all measured in
/// the same run so the ratios hold on a machine whose speed drifts.
struct HashBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Hashing throughput of Content Information v1 and v2 against openssl, sha256sum and b3sum.",
        discussion: "Writes a file of random bytes (kept in the page cache), then reports medians in MB/s (10^6 bytes per second)."
    )

    @Option(help: "Size of the test file.")
    var size = ByteCount(bytes: 1 << 30)

    @Option(help: "Directory for the test file (default: $TMPDIR or /tmp).")
    var directory: String?

    @Option(help: "Timed runs of each measurement; the median is reported.")
    var runs = 3

    @Flag(help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        guard size.bytes > 0 else { throw ValidationError("--size must be positive.") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1.") }
    }

    func run() throws {
        let directory = directory ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        let path = "\(directory)/peerdist-bench-\(getpid()).bin"
        try BenchmarkFile.write(path: path, size: size.bytes)
        defer { unlink(path) }
        let megabytes = Double(size.bytes) / 1e6
        let processors = FileHasher.processorCount

        var rows: [BenchmarkRow] = []
        func measureOurs(_ name: String, _ version: ContentInformationVersion, threads: Int) throws -> Double {
            let seconds = try median(runs) { () throws in _ = try FileHasher(version: version, threads: threads).hash(path: path) }
            rows.append(BenchmarkRow(name: name, megabytesPerSecond: megabytes / seconds))
            return megabytes / seconds
        }
        func measureTool(_ name: String, _ arguments: [String]) -> Double? {
            guard let seconds = try? median(runs, { try ChildProcess.run(arguments) }) else { return nil }
            rows.append(BenchmarkRow(name: name, megabytesPerSecond: megabytes / seconds))
            return megabytes / seconds
        }

        _ = try FileHasher(version: .v1).hash(path: path)  // warm the page cache
        let openSSL256 = OpenSSLSpeed.measure("sha256")
        let openSSL512 = OpenSSLSpeed.measure("sha512")
        if let openSSL256 { rows.append(BenchmarkRow(name: "openssl speed -evp sha256 (16 KiB)", megabytesPerSecond: openSSL256)) }
        if let openSSL512 { rows.append(BenchmarkRow(name: "openssl speed -evp sha512 (16 KiB)", megabytesPerSecond: openSSL512)) }
        let openSSL256All = processors > 1 ? OpenSSLSpeed.measure("sha256", processes: processors) : openSSL256
        if processors > 1, let openSSL256All {
            rows.append(BenchmarkRow(name: "openssl speed -multi \(processors) -evp sha256", megabytesPerSecond: openSSL256All))
        }
        ChunkerThroughput.prepare()
        let chunkerSeconds = try median(runs) { ChunkerThroughput.scanOnce() }
        rows.append(BenchmarkRow(name: "peerdist gear chunker alone (in memory)", megabytesPerSecond: Double(ChunkerThroughput.bytes) / 1e6 / chunkerSeconds))
        _ = measureTool("sha256sum", ["sha256sum", path])
        _ = measureTool("b3sum --num-threads 1", ["b3sum", "--num-threads", "1", path])
        let v1Single = try measureOurs("peerdist v1, 1 thread", .v1, threads: 1)
        let v1All = try measureOurs("peerdist v1, \(processors) threads", .v1, threads: processors)
        let v2Single = try measureOurs("peerdist v2, 1 thread", .v2, threads: 1)
        let v2All = try measureOurs("peerdist v2, \(processors) threads", .v2, threads: processors)

        // Peak memory of the whole `peerdist hash` process on this file, for each version.
        var memory: [BenchmarkMemory] = []
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        for version in ContentInformationVersion.allCases {
            let run = try ChildProcess.runMeasured([executable, "hash", path, "--content-version", "\(version.rawValue)", "--output", "-"])
            memory.append(BenchmarkMemory(name: "peerdist hash --content-version \(version.rawValue)", peakResidentBytes: run.peakResidentBytes))
        }

        var ratios: [BenchmarkRatio] = [
            BenchmarkRatio(name: "v1 \(processors) threads / v1 1 thread", value: v1All / v1Single, goal: 0.9 * Double(processors)),
        ]
        if processors > 1, let openSSL256, let openSSL256All {
            // How much of a second core this machine really gives, measured on OpenSSL alone.
            ratios.append(BenchmarkRatio(name: "openssl -multi \(processors) / openssl (core scaling)", value: openSSL256All / openSSL256, goal: nil))
            ratios.append(BenchmarkRatio(name: "v1 \(processors) threads / openssl -multi \(processors)", value: v1All / openSSL256All, goal: nil))
        }
        if let openSSL256 {
            ratios.insert(BenchmarkRatio(name: "v1 1 thread / openssl sha256", value: v1Single / openSSL256, goal: 0.9), at: 0)
        }
        if let openSSL512 {
            ratios.append(BenchmarkRatio(name: "v2 1 thread / openssl sha512", value: v2Single / openSSL512, goal: nil))
            ratios.append(BenchmarkRatio(name: "v2 \(processors) threads / openssl sha512", value: v2All / openSSL512, goal: 0.8))
        }

        let report = BenchmarkReport(fileSize: size.bytes, runs: runs, processors: processors, results: rows, ratios: ratios, memory: memory)
        if json {
            try Output.json(report)
        } else {
            report.print()
        }
    }

    private func median(_ runs: Int, _ body: () throws -> Void) throws -> Double {
        var seconds: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return seconds.sorted()[seconds.count / 2]
    }
}

/// The gear chunker on its own, over a buffer already in memory: what version 2 costs beyond SHA-512.
enum ChunkerThroughput {
    static let bytes = 64 << 20
    static func prepare() { _ = content.count }
    private static let content: [UInt8] = {
        var state: UInt64 = 1
        return (0..<bytes).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }()

    static func scanOnce() {
        var chunker = GearChunker()
        var segments = 0
        content.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let (consumed, isBoundary) = chunker.scan(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
                offset += consumed
                if isBoundary { segments += 1 }
            }
        }
        precondition(segments > 0)
    }
}

struct BenchmarkRow: Encodable {
    let name: String
    let megabytesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case name
        case megabytesPerSecond = "mb_per_s"
    }
}

struct BenchmarkRatio: Encodable {
    let name: String
    let value: Double
    let goal: Double?

    var met: Bool? { goal.map { value >= $0 } }
}

struct BenchmarkMemory: Encodable {
    let name: String
    let peakResidentBytes: Int

    enum CodingKeys: String, CodingKey {
        case name
        case peakResidentBytes = "peak_rss_bytes"
    }
}

struct BenchmarkReport: Encodable {
    let fileSize: Int
    let runs: Int
    let processors: Int
    let results: [BenchmarkRow]
    let ratios: [BenchmarkRatio]
    let memory: [BenchmarkMemory]

    enum CodingKeys: String, CodingKey {
        case runs, processors, results, ratios, memory
        case fileSize = "file_size"
    }

    func print() {
        Output.line("file \(ByteCount.format(fileSize)), \(processors) processors, median of \(runs) runs")
        Output.line()
        for row in results {
            Output.line(row.name.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: "%8.0f MB/s", row.megabytesPerSecond))
        }
        Output.line()
        for ratio in ratios {
            let goal = ratio.goal.map { String(format: "goal ≥ %.2f  %@", $0, ratio.met == true ? "met" : "NOT met") } ?? ""
            Output.line(ratio.name.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: "%8.2f   ", ratio.value) + goal)
        }
        Output.line()
        for entry in memory {
            Output.line(entry.name.padding(toLength: 48, withPad: " ", startingAt: 0) + "peak RSS " + ByteCount.format(entry.peakResidentBytes))
        }
    }
}
