import Foundation
import PeerDistTestHosts
import Testing

/// A swarm on one bridge, no addresses given anywhere, when a peer dies or lies.
@Suite(.serialized) struct SwarmFailureTests {
    /// 24 MiB and 3 bytes: 385 blocks of 64 KiB.
    static let size = 24 * 1024 * 1024 + 3
    static let blockCount = (size + 65535) / 65536

    @Test(.needsNetworkHosts) func leechersCompleteFromEachOtherOnceTheSeederIsKilled() throws {
        let network = try NetworkHosts(count: 5)
        let scratch = try ScratchDirectory()
        let file = scratch.child("original")
        try PublishFetchTests.makeFile(file, size: Self.size, seed: 81)
        // Leechers that pass blocks on more slowly than the seeder sends new ones, so that
        // between them they hold everything well before any of them does.
        let seeder = try NodeProcess(
            dataDirectory: scratch.child("seeder"), listen: "[::]:0", namespace: network.hosts[0].namespace, extraArguments: ["--max-upload", "8MiB"])
        defer { seeder.stop() }
        let uri = try PublishFetchTests.publish(file, on: seeder)
        let leechers = try (1...4).map { index in
            try NodeProcess(
                dataDirectory: scratch.child("leecher\(index)"), listen: "[::]:0", namespace: network.hosts[index].namespace,
                extraArguments: ["--max-upload", "2MiB"])
        }
        defer { leechers.forEach { $0.stop() } }
        let fetches = try SwarmFetch.start(uri, on: leechers, in: network, scratch: scratch)
        defer { fetches.forEach { $0.stop() } }

        // Kill the seeder the moment the leechers' blocks together make the whole content.
        let deadline = Date().addingTimeInterval(120)
        var killed = false
        var incompleteAtKill = 0
        while Date() < deadline, !killed {
            var union = [UInt8](repeating: 0, count: (Self.blockCount + 7) / 8)
            var incomplete = 0
            // Every leecher asked at once: one after another, a round took long enough on a busy
            // machine for a leecher to finish between the union being whole and the kill.
            for (fetch, held) in zip(fetches, try SwarmFetch.heldBlocks(of: leechers)) {
                // A finished fetch holds everything.
                guard fetch.process.isRunning else { union = union.map { _ in 0xFF }; continue }
                guard let held else { continue }
                incomplete += 1
                for (index, byte) in held.enumerated() where index < union.count { union[index] |= byte }
            }
            if union.reduce(0, { $0 + $1.nonzeroBitCount }) >= Self.blockCount {
                kill(seeder.process.processIdentifier, SIGKILL)
                killed = true
                incompleteAtKill = incomplete
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(killed, "the leechers never held every block between them")
        #expect(incompleteAtKill == 4, "\(4 - incompleteAtKill) leechers had finished before the seeder was killed")

        for (index, fetch) in fetches.enumerated() {
            #expect(fetch.wait(timeout: 90) == 0, "leecher \(index + 1) failed: \(fetch.output)")
            #expect(FileComparison.identical(file, scratch.child("fetched\(index)")), "leecher \(index + 1)")
        }
    }

    @Test(.needsNetworkHosts) func aLyingPeerIsBannedAndEveryFetchCompletes() throws {
        let network = try NetworkHosts(count: 5)
        let scratch = try ScratchDirectory()
        let file = scratch.child("original")
        try PublishFetchTests.makeFile(file, size: Self.size, seed: 82)
        let seeder = try NodeProcess(dataDirectory: scratch.child("seeder"), listen: "[::]:0", namespace: network.hosts[0].namespace)
        defer { seeder.stop() }
        let liar = try NodeProcess(
            dataDirectory: scratch.child("liar"), listen: "[::]:0", namespace: network.hosts[1].namespace, program: [Peerdist.liar.path])
        defer { liar.stop() }
        let uri = try PublishFetchTests.publish(file, on: seeder)
        #expect(try PublishFetchTests.publish(file, on: liar) == uri)
        let leechers = try (2...4).map { index in
            try NodeProcess(dataDirectory: scratch.child("leecher\(index)"), listen: "[::]:0", namespace: network.hosts[index].namespace)
        }
        defer { leechers.forEach { $0.stop() } }
        let fetches = try SwarmFetch.start(uri, on: leechers, in: network, firstHost: 2, scratch: scratch)
        defer { fetches.forEach { $0.stop() } }

        var rejected = 0
        for (index, fetch) in fetches.enumerated() {
            #expect(fetch.wait(timeout: 90) == 0, "leecher \(index + 2) failed: \(fetch.output)")
            #expect(FileComparison.identical(file, scratch.child("fetched\(index)")))
            let done = try #require(fetch.output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            let bad = try #require(done["rejected_blocks"] as? Int)
            // One bad block, and the liar is asked for nothing more in that fetch.
            #expect(bad <= 1, "leecher \(index + 2) took \(bad) bad blocks")
            rejected += bad
        }
        #expect(rejected >= 1, "no leecher tried the liar")
        let sent = try SwarmFetch.counter("blocks_sent", of: liar)
        // Each leecher's first window (32 blocks) at most: far from the content's 385.
        #expect(sent <= 3 * 32, "the liar sent \(sent) blocks")
    }
}

/// `peerdist fetch --json` through a running node in its namespace, with its output kept.
final class SwarmFetch: @unchecked Sendable {
    let process = Process()
    private let outputPath: String

    private init(arguments: [String], outputPath: String) throws {
        self.outputPath = outputPath
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run(output: outputPath, error: outputPath)
    }

    /// Starts one fetch per leecher, all at once; leecher `i` writes `fetched<i>`.
    static func start(_ uri: String, on leechers: [NodeProcess], in network: NetworkHosts, firstHost: Int = 1, scratch: ScratchDirectory) throws -> [SwarmFetch] {
        try leechers.enumerated().map { index, leecher in
            try SwarmFetch(
                arguments: ["ip", "netns", "exec", network.hosts[firstHost + index].namespace, Peerdist.binary.path, "fetch", uri,
                            "--data-dir", leecher.dataDirectory, "-o", scratch.child("fetched\(index)"), "--json"],
                outputPath: scratch.child("fetch\(index).out"))
        }
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// The exit status, or nil when the fetch is still running after `timeout` seconds.
    func wait(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The bits of the blocks a node's running transfer holds; nil when it has none running.
    static func heldBlocks(of node: NodeProcess) throws -> [UInt8]? {
        let status = try Peerdist.run("status", "--data-dir", node.dataDirectory, "--json")
        guard let object = try? JSONSerialization.jsonObject(with: status.output) as? [String: Any],
              let transfers = object["transfers"] as? [[String: Any]], let hex = transfers.first?["held_blocks"] as? String
        else { return nil }
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16) }
    }

    /// `heldBlocks` of every node, asked all at once.
    static func heldBlocks(of nodes: [NodeProcess]) throws -> [[UInt8]?] {
        let results = ResultsBox(count: nodes.count)
        DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
            results.set(index, Result { try heldBlocks(of: nodes[index]) })
        }
        return try results.values.map { try $0.get() }
    }

    private final class ResultsBox: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [Result<[UInt8]?, any Error>]

        init(count: Int) { results = Array(repeating: .success(nil), count: count) }

        func set(_ index: Int, _ result: Result<[UInt8]?, any Error>) {
            lock.withLock { results[index] = result }
        }

        var values: [Result<[UInt8]?, any Error>] { lock.withLock { results } }
    }

    static func counter(_ name: String, of node: NodeProcess) throws -> Int {
        let status = try Peerdist.run("status", "--data-dir", node.dataDirectory, "--json")
        let counters = (try JSONSerialization.jsonObject(with: status.output) as? [String: Any])?["counters"] as? [String: Any]
        return try #require(counters?[name] as? Int)
    }
}
