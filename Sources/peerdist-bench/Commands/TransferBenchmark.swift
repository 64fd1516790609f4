import ArgumentParser
import Foundation
import PeerDistHashing
import PeerDistCommandSupport
import PeerDistTestHosts

/// One file from one host to another over a veth link, by `peerdist fetch` and by `curl` from
/// nginx (or Python's http.server when nginx is missing), measured in the same run.
struct TransferBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer",
        abstract: "Fetch by ID between two network namespaces, against curl from a plain HTTP server.",
        discussion: "Needs root (it creates network namespaces, removed again at the end). Reports medians: throughput in MB/s, CPU seconds per GiB on each side, peak resident memory."
    )

    @Option(help: "Size of the file.")
    var size = ByteCount(bytes: 1 << 30)

    @Option(help: "Timed runs of each transfer; the median is reported.")
    var runs = 3

    @Flag(help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        guard size.bytes > 0, runs >= 1 else { throw ValidationError("--size and --runs must be positive.") }
    }

    struct Result: Encodable {
        let name: String
        let megabytesPerSecond: Double
        let serverCPUSecondsPerGiB: Double
        let clientCPUSecondsPerGiB: Double
        let serverPeakResidentBytes: Int
        let clientPeakResidentBytes: Int

        enum CodingKeys: String, CodingKey {
            case name
            case megabytesPerSecond = "mb_per_s"
            case serverCPUSecondsPerGiB = "server_cpu_s_per_gib"
            case clientCPUSecondsPerGiB = "client_cpu_s_per_gib"
            case serverPeakResidentBytes = "server_peak_rss_bytes"
            case clientPeakResidentBytes = "client_peak_rss_bytes"
        }
    }

    struct Report: Encodable {
        let results: [Result]
        let throughputRatio: Double
        /// curl and nginx's CPU plus what verifying and encrypting each byte costs at least.
        let floorCPUSecondsPerGiB: Double
        let sha256CPUSecondsPerGiB: Double
        let aesGCMCPUSecondsPerGiB: Double

        enum CodingKeys: String, CodingKey {
            case results
            case throughputRatio = "throughput_ratio"
            case floorCPUSecondsPerGiB = "floor_cpu_s_per_gib"
            case sha256CPUSecondsPerGiB = "sha256_cpu_s_per_gib"
            case aesGCMCPUSecondsPerGiB = "aes_gcm_seal_open_cpu_s_per_gib"
        }
    }

    func run() throws {
        let network = try NetworkHosts(count: 2)
        defer { network.tearDown() }
        let (server, client) = (network.hosts[0], network.hosts[1])
        // In memory (tmpfs) when possible, so both transfers are measured rather than this machine's disk.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let work = "\(base)/peerdist-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let file = "\(work)/content.bin"
        try BenchmarkFile.write(path: file, size: size.bytes)
        let executable = try PeerdistBinary.path()
        let gibibytes = Double(size.bytes) / Double(1 << 30)

        func inNamespace(_ host: NetworkHosts.Host, _ arguments: [String]) -> [String] {
            ["ip", "netns", "exec", host.namespace] + arguments
        }

        typealias Sample = (wall: Double, client: Double, server: Double, clientPeak: Int)
        /// One run of `fetch` in the client namespace, with the CPU the server's namespace spent meanwhile.
        func sample(clean: () -> Void, _ fetch: [String]) throws -> Sample {
            clean()
            try FreedMemorySettling.wait()
            let serverBefore = network.cpuSeconds(in: server)
            let measurement = try ChildProcess.runMeasured(inNamespace(client, fetch))
            return (measurement.wallSeconds, measurement.cpuSeconds, network.cpuSeconds(in: server) - serverBefore, measurement.peakResidentBytes)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func result(_ name: String, _ samples: [Sample], serverPeak: Int) -> Result {
            Result(
                name: name, megabytesPerSecond: Double(size.bytes) / 1e6 / median(samples.map(\.wall)),
                serverCPUSecondsPerGiB: median(samples.map(\.server)) / gibibytes, clientCPUSecondsPerGiB: median(samples.map(\.client)) / gibibytes,
                serverPeakResidentBytes: serverPeak, clientPeakResidentBytes: samples.map(\.clientPeak).max() ?? 0)
        }

        // PeerDist: a node in the server namespace, fetch by ID from the client namespace.
        let seederLog = "\(work)/seeder.log"
        let seeder = try ChildProcess.start(inNamespace(server, [executable, "serve", "--data-dir", "\(work)/seeder", "--listen", "[::]:0"]), logPath: seederLog)
        defer { seeder.stop() }
        let port = try waitForPort(log: seederLog)
        let published = try ChildProcess.run([executable, "publish", file, "--data-dir", "\(work)/seeder", "--json"])
        guard let uri = (try? JSONSerialization.jsonObject(with: Data(published.utf8)) as? [String: String])?["uri"] else {
            throw CommandFailure("publishing the benchmark file failed")
        }
        // HTTP: the same file from nginx (sendfile) or Python, fetched with curl.
        let httpServer = try HTTPServer.start(in: server.namespace, root: work, scratch: "\(work)/http")
        defer { httpServer.process.stop() }
        let url = "http://[\(server.address)%25\(client.interface)]:\(httpServer.port)/content.bin"

        // The two take turns, run by run, so that a machine whose speed drifts slows both alike;
        // the throughput ratio is the median of the per-pair ratios.
        let output = "\(work)/fetched.bin"
        var peerdistSamples: [Sample] = []
        var curlSamples: [Sample] = []
        for _ in 0..<runs {
            peerdistSamples.append(try sample(clean: {
                try? FileManager.default.removeItem(atPath: output)
                try? FileManager.default.removeItem(atPath: "\(work)/leecher")
            }, [executable, "fetch", uri, "--peer", network.peerAddress(of: server, from: client, port: port), "--data-dir", "\(work)/leecher", "-o", output]))
            guard try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int == size.bytes else {
                throw CommandFailure("the fetched file has the wrong size")
            }
            curlSamples.append(try sample(clean: { try? FileManager.default.removeItem(atPath: output) }, ["curl", "-g", "-s", "-f", "-o", output, url]))
        }
        let peerdist = result("peerdist fetch", peerdistSamples, serverPeak: ProcessTable.residentHighWaterMark(of: seeder.pid))
        let curl = result("curl from \(httpServer.name)", curlSamples, serverPeak: network.peakResidentBytes(in: server, excluding: [seeder.pid]))
        let pairedRatio = median(zip(peerdistSamples, curlSamples).map { $1.wall / $0.wall })
        let floor = CryptoFloor.measure()
        let curlBoth = curl.serverCPUSecondsPerGiB + curl.clientCPUSecondsPerGiB
        let peerdistBoth = peerdist.serverCPUSecondsPerGiB + peerdist.clientCPUSecondsPerGiB

        let report = (peerdist: peerdist, curl: curl)
        if json {
            try Output.json(Report(
                results: [report.peerdist, report.curl], throughputRatio: pairedRatio, floorCPUSecondsPerGiB: curlBoth + floor.total,
                sha256CPUSecondsPerGiB: floor.sha256, aesGCMCPUSecondsPerGiB: floor.aesGCMSealAndOpen))
            return
        }
        Output.line("file \(ByteCount.format(size.bytes)) over a veth link between two network namespaces, median of \(runs) runs; files in \(base)")
        Output.line()
        Output.line("what".padding(toLength: 24, withPad: " ", startingAt: 0) + "   MB/s   server CPU-s/GiB   client CPU-s/GiB   server peak RSS   client peak RSS")
        for result in [report.peerdist, report.curl] {
            Output.line(result.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%7.0f   %16.2f   %16.2f", result.megabytesPerSecond, result.serverCPUSecondsPerGiB, result.clientCPUSecondsPerGiB)
                + "   " + ByteCount.format(result.serverPeakResidentBytes).padding(toLength: 15, withPad: " ", startingAt: 0)
                + "   " + ByteCount.format(result.clientPeakResidentBytes))
        }
        Output.line()
        Output.line(String(format: "throughput peerdist / curl            %.2f   (median of per-run pairs; goal ≥ 1.00)", pairedRatio))
        Output.line(String(format: "CPU-s per GiB, both sides, peerdist   %.2f   = %.2f × curl's (goal ≤ 1.40 ×)", peerdistBoth, peerdistBoth / curlBoth))
        Output.line(String(format: "CPU-s per GiB, both sides, curl       %.2f", curlBoth))
        Output.line(String(format: "floor: curl + SHA-256 %.2f + AES-GCM seal and open %.2f = %.2f = %.2f × curl's; peerdist is %.2f × the floor",
            floor.sha256, floor.aesGCMSealAndOpen, curlBoth + floor.total, (curlBoth + floor.total) / curlBoth, peerdistBoth / (curlBoth + floor.total)))
    }

    private func waitForPort(log: String) throws -> String {
        for _ in 0..<400 {
            if let text = try? String(contentsOfFile: log, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
               let port = line.split(separator: ":").last {
                return String(port)
            }
            usleep(25_000)
        }
        throw CommandFailure("the benchmark node did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }
}

/// A plain HTTP server for baselines: nginx with sendfile when installed, else Python's http.server.
struct HTTPServer {
    let name: String
    let process: RunningProcess
    let port: Int

    static func start(in namespace: String, root: String, scratch: String) throws -> HTTPServer {
        let port = 18_000 + Int.random(in: 0..<2000)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        if FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") {
            try nginxConfiguration(root: root, scratch: scratch, port: port).write(toFile: "\(scratch)/nginx.conf", atomically: true, encoding: .utf8)
            let process = try ChildProcess.start(["ip", "netns", "exec", namespace, "/usr/sbin/nginx", "-c", "\(scratch)/nginx.conf", "-p", scratch], logPath: "\(scratch)/nginx.log")
            usleep(300_000)
            return HTTPServer(name: "nginx", process: process, port: port)
        }
        let process = try ChildProcess.start(["ip", "netns", "exec", namespace, "python3", "-m", "http.server", "--bind", "::", "--directory", root, "\(port)"], logPath: "\(scratch)/http.log")
        usleep(800_000)
        return HTTPServer(name: "python http.server", process: process, port: port)
    }

    /// nginx in the foreground serving `root` with `sendfile`, every file it writes in `scratch`.
    static func nginxConfiguration(root: String, scratch: String, port: Int, workers: String = "1") -> String {
        """
        daemon off; worker_processes \(workers); pid \(scratch)/nginx.pid; error_log \(scratch)/error.log;
        events { worker_connections 64; }
        http { access_log off; sendfile on; tcp_nopush on;
          client_body_temp_path \(scratch); proxy_temp_path \(scratch); fastcgi_temp_path \(scratch);
          uwsgi_temp_path \(scratch); scgi_temp_path \(scratch);
          server { listen [::]:\(port); root \(root); } }
        """
    }
}
