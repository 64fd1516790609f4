import ArgumentParser
import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// The ways `peerdist-bench branchcache` gets a file from an origin web server to every client:
/// BranchCache's, and every client downloading it plainly, in the order they run and are printed.
enum BranchCacheMethodKind: String, CaseIterable, ExpressibleByArgument, SwarmMethodChoice {
    /// `peerdist fetch http://…` on a running node in every client: Content Information from the
    /// origin, blocks from each other, from the origin only what no client has.
    case branchcache
    /// `curl` in every client, from the same origin server.
    case plain

    var title: String {
        switch self {
        case .branchcache: "peerdist fetch http://"
        case .plain: "plain HTTP (curl)"
        }
    }

    var requiredTools: [RequiredTool] {
        switch self {
        case .branchcache: []
        case .plain: [RequiredTool("curl", package: "curl")]
        }
    }

    func make(_ setup: SwarmSetup, _ processes: SwarmProcesses) -> any SwarmMethod {
        switch self {
        case .branchcache: BranchCacheSwarm(setup: setup, processes: processes)
        case .plain: PlainOriginSwarm(setup: setup, processes: processes)
        }
    }
}

/// The origin both methods download from: `peerdist serve --http-origin` on the seeder, serving
/// the content's directory on port 8080 (MS-PCCRTP: Content Information to clients that ask for
/// it, bytes to the others).
enum BenchOrigin {
    static let port = 8080

    static func start(_ setup: SwarmSetup, _ processes: SwarmProcesses) throws {
        let log = "origin-serve.log"
        let pid = try processes.start(
            [setup.executable, "serve", "--data-dir", "\(setup.directory)/origin-node", "--listen", "[::]:0",
             "--http-origin", setup.contentDirectory, "--http-listen", "[::]:\(port)"],
            in: setup.seeder, log: log)
        try processes.waitUntilListening(on: port, in: setup.seeder, log: log, pid: pid)
    }

    /// The content's URL as `leecher` reaches the origin (`%25`: the `%` of the zone, in a URL).
    static func url(_ setup: SwarmSetup, from leecher: NetworkHosts.Host, zoneEscaped: Bool) -> String {
        "http://[\(setup.seeder.address)\(zoneEscaped ? "%25" : "%")\(leecher.interface)]:\(port)/\(setup.contentName)"
    }
}

/// BranchCache's way: a `serve` node in every client and one `fetch http://…` sent to each at once
/// through its control socket, so that each serves the blocks it holds while it fetches. The
/// origin hashes the file when the first client asks for its Content Information; that is done
/// once before the clock starts (as publishing is in `swarm`), since the origin keeps it.
final class BranchCacheSwarm: SwarmMethod {
    private let setup: SwarmSetup
    private let processes: SwarmProcesses

    init(setup: SwarmSetup, processes: SwarmProcesses) {
        self.setup = setup
        self.processes = processes
    }

    private func clientData(_ index: Int) throws -> String { "\(try setup.leecherDirectory(index))/node" }

    func prepare() throws {
        try BenchOrigin.start(setup, processes)
        // The origin hashes the file now, as it would for its first client.
        guard let first = setup.leechers.first else { return }
        _ = try processes.run(
            ["curl", "-g", "-s", "-S", "-f", "-o", "/dev/null", "-H", "Accept-Encoding: peerdist", "-H", "X-P2P-PeerDist: Version=1.1",
             BenchOrigin.url(setup, from: first, zoneEscaped: true)],
            in: first, log: "origin-hash.log", until: .now + .seconds(600))
        for (index, client) in setup.leechers.enumerated() {
            let log = "client\(index + 1)-serve.log"
            let pid = try processes.start([setup.executable, "serve", "--data-dir", try clientData(index), "--listen", "[::]:0"], in: client, log: log)
            try processes.waitForLog(log, containing: "listening on", pid: pid)
        }
    }

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, client in
            let output = "\(try setup.leecherDirectory(index))/\(setup.contentName)"
            let log = "client\(index + 1)-fetch.log"
            let pid = try processes.start(
                [setup.executable, "fetch", BenchOrigin.url(setup, from: client, zoneEscaped: false), "-o", output, "--data-dir", try clientData(index), "--json"],
                in: client, log: log)
            let events = FetchEventReader(path: processes.logPath(log))
            return .process(pid, log: log, output: output, processes: processes) { events.heldBytes() }
        }
    }
}

/// The baseline: every client downloads the file from the same origin with `curl`, as from any
/// web server; the origin's slow link carries every copy.
struct PlainOriginSwarm: SwarmMethod {
    let setup: SwarmSetup
    let processes: SwarmProcesses

    func prepare() throws {
        try BenchOrigin.start(setup, processes)
    }

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, client in
            let output = "\(try setup.leecherDirectory(index))/\(setup.contentName)"
            let log = "client\(index + 1)-curl.log"
            let pid = try processes.start(["curl", "-g", "-s", "-S", "-f", "-o", output, BenchOrigin.url(setup, from: client, zoneEscaped: true)], in: client, log: log)
            return .process(pid, log: log, output: output, processes: processes) { FileSize.apparent(output) }
        }
    }
}
