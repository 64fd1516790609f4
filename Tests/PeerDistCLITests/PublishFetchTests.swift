import Foundation
import PeerDistTestHosts
import Testing

/// Publish on one node, fetch by ID on another, over real sockets between real processes.
@Suite(.serialized) struct PublishFetchTests {
    static let sizes = [0, 1, 65_536, 32 * 1024 * 1024 + 1, 300 * 1024 * 1024]

    /// Reproducible incompressible content, written straight to a file.
    static func makeFile(_ path: String, size: Int, seed: UInt64) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var state = seed
        var remaining = size
        var chunk = [UInt64](repeating: 0, count: 1 << 17)
        while remaining > 0 {
            for index in chunk.indices {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                chunk[index] = z ^ (z >> 27)
            }
            let count = min(remaining, chunk.count * 8)
            try chunk.withUnsafeBytes { try handle.write(contentsOf: Data($0.prefix(count))) }
            remaining -= count
        }
    }

    static func publish(_ path: String, on node: NodeProcess) throws -> String {
        let result = try Peerdist.run("publish", path, "--data-dir", node.dataDirectory, "--json")
        guard result.status == 0,
              let object = try JSONSerialization.jsonObject(with: result.output) as? [String: String],
              let uri = object["uri"]
        else { throw CommandFailed(result: result) }
        return uri
    }

    /// A scratch directory holding a reproducible file of `size` bytes (`original`), published on
    /// a node started for it (`program`, `peerdist serve` unless told, on data directory `seeder`).
    static func published(
        size: Int, seed: UInt64, listen: String = "[::1]:0", namespace: String? = nil, extraArguments: [String] = [],
        program: [String] = [Peerdist.binary.path, "serve"]
    ) throws -> (scratch: ScratchDirectory, file: String, seeder: NodeProcess, uri: String) {
        let scratch = try ScratchDirectory()
        let file = scratch.child("original")
        try makeFile(file, size: size, seed: seed)
        let seeder = try NodeProcess(
            dataDirectory: scratch.child("seeder"), listen: listen, namespace: namespace, extraArguments: extraArguments, program: program)
        return (scratch, file, seeder, try publish(file, on: seeder))
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let result: CommandResult
        var description: String { "status \(result.status): \(result.standardError)" }
    }

    @Test(arguments: sizes)
    func fetchesByIDOverLoopback(size: Int) throws {
        let (scratch, file, seeder, uri) = try Self.published(size: size, seed: UInt64(size) + 1)

        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--peer", seeder.address, "--data-dir", scratch.child("leecher"), "-o", output, "--json")
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
        // The fetcher's temporary files are gone; only the result is at the destination.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".fetched") }.isEmpty)
    }
}

/// The same between two hosts: network namespaces on a veth pair, link-local addresses only.
@Suite(.serialized) struct TwoHostTests {
    @Test(.needsNetworkHosts, arguments: PublishFetchTests.sizes)
    func fetchesByIDAcrossALink(size: Int) throws {
        let hosts = try NetworkHosts(count: 2)
        let (scratch, file, seeder, uri) = try PublishFetchTests.published(size: size, seed: UInt64(size) + 2, listen: "[::]:0", namespace: hosts.first)
        defer { seeder.stop() }

        let output = scratch.child("fetched")
        let peer = "[\(hosts.hosts[0].address)%\(hosts.secondInterface)]:\(seeder.port)"
        let fetch = try hosts.peerdist(in: hosts.second, ["fetch", uri, "--peer", peer, "--data-dir", scratch.child("leecher"), "-o", output])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
    }
}

/// Zero configuration: with no `--peer`, a fetch asks the link who holds the content.
@Suite(.serialized) struct DiscoveryTests {
    @Test(.needsNetworkHosts) func fetchFindsTheSeederOnTheLink() throws {
        let hosts = try NetworkHosts(count: 2)
        let (scratch, file, seeder, uri) = try PublishFetchTests.published(size: 3 * 1024 * 1024 + 5, seed: 31, listen: "[::]:0", namespace: hosts.first)
        defer { seeder.stop() }

        let output = scratch.child("fetched")
        let fetch = try hosts.peerdist(in: hosts.second, ["fetch", uri, "--data-dir", scratch.child("leecher"), "-o", output])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))

        // Content nobody holds: the question goes unanswered and the error says what to do.
        let unknown = try hosts.peerdist(in: hosts.second, ["fetch", "peerdist:" + String(repeating: "b", count: 51) + "a", "--data-dir", scratch.child("leecher"), "-o", scratch.child("x")])
        #expect(unknown.status == 1 && unknown.standardError.contains("no peer on the LAN answered"), "\(unknown.standardError)")
    }
}

/// Presence: nodes announce themselves when they start and say goodbye when they stop.
@Suite(.serialized) struct PresenceTests {
    private func listedFingerprints(_ dataDirectory: String, in hosts: NetworkHosts, namespace: String) throws -> [String] {
        let result = try hosts.peerdist(in: namespace, ["peers", "--data-dir", dataDirectory, "--json"])
        let entries = try JSONSerialization.jsonObject(with: result.output) as? [[String: Any]] ?? []
        return entries.compactMap { $0["fingerprint"] as? String }
    }

    private func fingerprint(of dataDirectory: String) throws -> String {
        let status = try Peerdist.run("status", "--data-dir", dataDirectory, "--json")
        return try #require((try JSONSerialization.jsonObject(with: status.output) as? [String: Any])?["fingerprint"] as? String)
    }

    /// Polls for up to a minute: each poll starts a `peerdist` process, which on a loaded machine
    /// can take seconds.
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    @Test(.needsNetworkHosts) func nodesSeeEachOtherComeAndGo() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let first = try NodeProcess(dataDirectory: scratch.child("first"), listen: "[::]:0", namespace: hosts.first)
        defer { first.stop() }
        let second = try NodeProcess(dataDirectory: scratch.child("second"), listen: "[::]:0", namespace: hosts.second)
        let secondFingerprint = try fingerprint(of: second.dataDirectory)
        let firstFingerprint = try fingerprint(of: first.dataDirectory)

        // The second node's Hello reaches the first, and the first answers so the second knows it too.
        #expect(try eventually { try listedFingerprints(first.dataDirectory, in: hosts, namespace: hosts.first) == [secondFingerprint] })
        #expect(try eventually { try listedFingerprints(second.dataDirectory, in: hosts, namespace: hosts.second) == [firstFingerprint] })
        let human = try hosts.peerdist(in: hosts.first, ["peers", "--data-dir", first.dataDirectory])
        #expect(human.standardOutput.contains(secondFingerprint) && human.standardOutput.contains("\(hosts.hosts[1].address)%"))

        // Gone by its goodbye, which a node says while stopping cleanly: on a loaded machine that
        // can take longer than the usual 5 s before SIGKILL, after which nobody says anything.
        let stopped = ContinuousClock.now
        #expect(second.stop(grace: 60), "the node did not stop within 60 s of SIGTERM: \(second.log)")
        let stopping = ContinuousClock.now - stopped
        #expect(
            try eventually { try listedFingerprints(first.dataDirectory, in: hosts, namespace: hosts.first).isEmpty },
            "still listed; the second node took \(stopping) to stop. Its log: \(second.log)\nThe first's: \(first.log)")
    }

    @Test(.needsNetworkHosts) func aNodeFollowsInterfacesThatAppearAfterItStarted() throws {
        let hosts = try NetworkHosts(count: 2, linked: false)
        let scratch = try ScratchDirectory()
        // The first node starts with loopback only; the link appears afterwards.
        let first = try NodeProcess(dataDirectory: scratch.child("first"), listen: "[::]:0", namespace: hosts.first)
        defer { first.stop() }
        try hosts.link()
        let second = try NodeProcess(dataDirectory: scratch.child("second"), listen: "[::]:0", namespace: hosts.second)
        defer { second.stop() }
        let secondFingerprint = try fingerprint(of: second.dataDirectory)
        #expect(try eventually { try listedFingerprints(first.dataDirectory, in: hosts, namespace: hosts.first) == [secondFingerprint] })
    }
}

/// What a node fetched, it serves: once the seeder is gone, a third node finds the content on the
/// node that fetched it, with no address given anywhere.
@Suite(.serialized) struct RelayTests {
    @Test(.needsNetworkHosts) func contentOutlivesItsSeeder() throws {
        let hosts = try NetworkHosts(count: 2)
        let (scratch, file, seeder, uri) = try PublishFetchTests.published(size: 5 * 1024 * 1024 + 9, seed: 51, listen: "[::]:0", namespace: hosts.first)

        // A running node on the other host fetches it through discovery and keeps it in its cache.
        let relay = try NodeProcess(dataDirectory: scratch.child("relay"), listen: "[::]:0", namespace: hosts.second)
        defer { relay.stop() }
        let first = try hosts.peerdist(in: hosts.second, ["fetch", uri, "--data-dir", relay.dataDirectory, "-o", scratch.child("first")])
        #expect(first.status == 0, "\(first.standardError)")
        seeder.stop()

        // A newcomer next to where the seeder was finds the relay instead.
        let output = scratch.child("second")
        let second = try hosts.peerdist(in: hosts.first, ["fetch", uri, "--data-dir", scratch.child("newcomer"), "-o", output])
        #expect(second.status == 0, "\(second.standardError)")
        #expect(FileComparison.identical(file, output))
    }
}

/// One seeder, four leechers on a bridge, no address given anywhere: every leecher finds the
/// content by ID and gets identical bytes, fetching from the seeder and from each other.
@Suite(.serialized) struct FanOutTests {
    @Test(.needsNetworkHosts) func fourLeechersFetchByIDAtOnce() throws {
        let network = try NetworkHosts(count: 5)
        let (scratch, file, seeder, uri) = try PublishFetchTests.published(size: 24 * 1024 * 1024 + 3, seed: 61, listen: "[::]:0", namespace: network.hosts[0].namespace)
        defer { seeder.stop() }

        let leechers = try (1...4).map { index in
            try NodeProcess(dataDirectory: scratch.child("leecher\(index)"), listen: "[::]:0", namespace: network.hosts[index].namespace)
        }
        defer { leechers.forEach { $0.stop() } }
        // All four fetch at the same time, each through its own running node.
        let fetches = try SwarmFetch.start(uri, on: leechers, in: network, scratch: scratch)
        defer { fetches.forEach { $0.stop() } }
        for (index, fetch) in fetches.enumerated() {
            #expect(fetch.wait(timeout: 120) == 0, "leecher \(index + 1) failed: \(fetch.output)")
            #expect(FileComparison.identical(file, scratch.child("fetched\(index)")))
        }
    }
}

/// Where multicast does not pass, static peers work the same way.
@Suite(.serialized) struct NoMulticastTests {
    @Test(.needsNetworkHosts) func staticPeersStandInForDiscovery() throws {
        let hosts = try NetworkHosts(count: 2)
        let (scratch, file, seeder, uri) = try PublishFetchTests.published(size: 2 * 1024 * 1024 + 1, seed: 71, listen: "[::]:0", namespace: hosts.first)
        defer { seeder.stop() }
        try NetworkHosts.ip("-n", hosts.second, "link", "set", hosts.secondInterface, "multicast", "off")

        let leecher = scratch.child("leecher")
        let alone = try hosts.peerdist(in: hosts.second, ["fetch", uri, "--data-dir", leecher, "-o", scratch.child("x")])
        #expect(alone.status == 1 && alone.standardError.contains("no peer on the LAN answered"), "\(alone.standardError)")

        try FileManager.default.createDirectory(atPath: leecher, withIntermediateDirectories: true)
        try "[\(hosts.hosts[0].address)%\(hosts.secondInterface)]:\(seeder.port)\n".write(toFile: "\(leecher)/peers", atomically: true, encoding: .utf8)
        let output = scratch.child("fetched")
        let fetch = try hosts.peerdist(in: hosts.second, ["fetch", uri, "--data-dir", leecher, "-o", output])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
    }
}
