import Foundation

/// Plain HTTP: nginx serves the file from the seeder (with `sendfile`), and every leecher fetches
/// it with `curl` at the same time. Leechers share nothing, so the seeder sends every copy.
struct HTTPSwarm: SwarmMethod {
    private static let port = 8080

    let setup: SwarmSetup
    let processes: SwarmProcesses

    func prepare() throws {
        let scratch = "\(setup.directory)/nginx"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        // A worker per processor, so the server is never the one kept to a single core.
        let configuration = HTTPServer.nginxConfiguration(root: setup.contentDirectory, scratch: scratch, port: Self.port, workers: "auto")
        try configuration.write(toFile: "\(scratch)/nginx.conf", atomically: true, encoding: .utf8)
        let log = "nginx.log"
        let pid = try processes.start(["nginx", "-c", "\(scratch)/nginx.conf", "-p", scratch], in: setup.seeder, log: log)
        try processes.waitUntilListening(on: Self.port, in: setup.seeder, log: log, pid: pid)
    }

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, leecher in
            let output = "\(try setup.leecherDirectory(index))/\(setup.contentName)"
            // `%25` is the URL form of the `%` before the zone: the leecher's own interface.
            let url = "http://[\(setup.seeder.address)%25\(leecher.interface)]:\(Self.port)/\(setup.contentName)"
            let log = "leecher\(index + 1)-curl.log"
            let pid = try processes.start(["curl", "-g", "-s", "-S", "-f", "-o", output, url], in: leecher, log: log)
            return .process(pid, log: log, output: output, processes: processes) { FileSize.apparent(output) }
        }
    }
}
