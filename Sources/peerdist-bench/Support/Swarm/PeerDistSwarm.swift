import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// PeerDist as it is used on a LAN: a `serve` node on the seeder with the file published, a
/// `serve` node on every leecher, and one `fetch` by content ID sent to each leecher's node at
/// once. No addresses are given: each node finds holders by multicast discovery and draws on all
/// of them, the other leechers included, serving what it holds while it fetches.
final class PeerDistSwarm: SwarmMethod {
    private let setup: SwarmSetup
    private let processes: SwarmProcesses
    private var uri = ""

    init(setup: SwarmSetup, processes: SwarmProcesses) {
        self.setup = setup
        self.processes = processes
    }

    private var seederData: String { "\(setup.directory)/seeder-node" }

    private func leecherData(_ index: Int) throws -> String { "\(try setup.leecherDirectory(index))/node" }

    func prepare() throws {
        try startNode(in: setup.seeder, dataDirectory: seederData, log: "seeder-serve.log")
        // Publishing hashes the file: like making a torrent, it is done before the clock starts.
        let published = try ChildProcess.run([setup.executable, "publish", setup.content, "--data-dir", seederData, "--json"])
        guard let reply = try? JSONSerialization.jsonObject(with: Data(published.utf8)) as? [String: Any], let uri = reply["uri"] as? String else {
            throw CommandFailure("peerdist publish printed no uri: \(published.prefix(200))")
        }
        self.uri = uri
        for (index, leecher) in setup.leechers.enumerated() {
            try startNode(in: leecher, dataDirectory: try leecherData(index), log: "leecher\(index + 1)-serve.log")
        }
    }

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, leecher in
            let output = "\(try setup.leecherDirectory(index))/\(setup.contentName)"
            let log = "leecher\(index + 1)-fetch.log"
            let pid = try processes.start(
                [setup.executable, "fetch", uri, "-o", output, "--data-dir", try leecherData(index), "--json"], in: leecher, log: log)
            // The output appears only once complete (it is renamed into place), so progress comes
            // from the fetch's JSON events.
            let events = FetchEventReader(path: processes.logPath(log))
            return .process(pid, log: log, output: output, processes: processes) { events.heldBytes() }
        }
    }

    private func startNode(in host: NetworkHosts.Host, dataDirectory: String, log: String) throws {
        let pid = try processes.start([setup.executable, "serve", "--data-dir", dataDirectory, "--listen", "[::]:0"], in: host, log: log)
        try processes.waitForLog(log, containing: "listening on", pid: pid)
    }
}

/// The newest `held_bytes` in the JSON lines `peerdist fetch --json` writes to a log, read
/// incrementally so that polling stays cheap however long the log grows.
final class FetchEventReader {
    private let path: String
    private var offset: UInt64 = 0
    private var partialLine = Data()
    private var held = 0

    init(path: String) {
        self.path = path
    }

    func heldBytes() -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else { return held }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        guard let data = try? handle.readToEnd(), !data.isEmpty else { return held }
        offset += UInt64(data.count)
        partialLine.append(data)
        while let newline = partialLine.firstIndex(of: UInt8(ascii: "\n")) {
            let line = partialLine[partialLine.startIndex..<newline]
            partialLine = Data(partialLine[partialLine.index(after: newline)...])
            if let event = try? JSONSerialization.jsonObject(with: line) as? [String: Any], let bytes = event["held_bytes"] as? Int {
                held = bytes
            }
        }
        return held
    }
}
