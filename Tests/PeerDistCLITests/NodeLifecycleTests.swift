import Foundation
import PeerDistTestHosts
import Testing

/// The node as a user drives it: a running node takes over publish, fetch, status and store
/// commands through its control socket, and stops cleanly on SIGTERM.
@Suite(.serialized) struct NodeLifecycleTests {
    typealias Helpers = PublishFetchTests

    private func json(_ result: CommandResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.output) as? [String: Any], "\(result.standardError)")
    }

    @Test func aRunningNodeFetchesCachesAndListsContent() throws {
        let (scratch, file, seeder, uri) = try Helpers.published(size: 5 * 1024 * 1024 + 3, seed: 21)
        let leecher = try NodeProcess(dataDirectory: scratch.child("leecher"))

        // The fetch goes through the leecher's running node, which keeps the content in its cache.
        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--peer", seeder.address, "--data-dir", leecher.dataDirectory, "-o", output)
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))

        let status = try json(try Peerdist.run("status", "--data-dir", leecher.dataDirectory, "--json"))
        let cached = try #require(status["cached"] as? [[String: Any]])
        #expect(cached.count == 1 && cached.first?["uri"] as? String == uri && cached.first?["complete"] as? Bool == true)
        let counters = try #require(status["counters"] as? [String: Any])
        #expect(counters["block_bytes_received"] as? Int == 5 * 1024 * 1024 + 3)
        let seederStatus = try json(try Peerdist.run("status", "--data-dir", seeder.dataDirectory, "--json"))
        #expect((seederStatus["published"] as? [[String: Any]])?.first?["path"] as? String == file)
        #expect((seederStatus["listening"] as? [String])?.first == seeder.address)

        // The leecher now serves what it fetched: a third node fetches from it alone.
        let again = scratch.child("again")
        let second = try Peerdist.run("fetch", uri, "--peer", leecher.address, "--data-dir", scratch.child("third"), "-o", again)
        #expect(second.status == 0, "\(second.standardError)")
        #expect(FileComparison.identical(file, again))

        let listed = try Peerdist.run("store", "ls", "--data-dir", leecher.dataDirectory, "--json")
        #expect(listed.status == 0 && listed.standardOutput.contains(uri))
        let removed = try Peerdist.run("store", "rm", uri, "--data-dir", leecher.dataDirectory)
        #expect(removed.status == 0, "\(removed.standardError)")
        let empty = try json(try Peerdist.run("status", "--data-dir", leecher.dataDirectory, "--json"))
        #expect((empty["cached"] as? [Any])?.isEmpty == true)
        #expect(try Peerdist.run("store", "gc", "--data-dir", leecher.dataDirectory).status == 0)
        // The user's copy is theirs: removing content from the store leaves it alone.
        #expect(FileComparison.identical(file, output))
    }

    @Test func staticPeersComeFromTheDataDirectory() throws {
        let (scratch, file, seeder, uri) = try Helpers.published(size: 700_000, seed: 23)
        let leecher = scratch.child("leecher")
        try FileManager.default.createDirectory(atPath: leecher, withIntermediateDirectories: true)
        try "# where multicast does not pass\n\n\(seeder.address)  # the seeder\n".write(toFile: "\(leecher)/peers", atomically: true, encoding: .utf8)

        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--data-dir", leecher, "-o", output)
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))

        try "\(seeder.address)\nnot an address\n".write(toFile: "\(leecher)/peers", atomically: true, encoding: .utf8)
        let broken = try Peerdist.run("fetch", uri, "--data-dir", leecher, "-o", scratch.child("again"))
        #expect(broken.status == 1 && broken.standardError.contains("peers:2: 'not an address' is not a peer address"), "\(broken.standardError)")
    }

    @Test func rateLimitedNodesStillDeliverEveryByte() throws {
        let (scratch, file, seeder, uri) = try Helpers.published(size: 4 * 1024 * 1024 + 1, seed: 24, extraArguments: ["--max-upload", "64MiB"])
        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--peer", seeder.address, "--max-download", "64MiB", "--data-dir", scratch.child("leecher"), "-o", output)
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
        let bad = try Peerdist.run("serve", "--max-upload", "fast", "--data-dir", scratch.child("other"))
        #expect(bad.status == 64)
    }

    /// A node keeps files it serves open, as many as an eighth of its limit: started with a soft
    /// limit of 256 under a hard one of 4 096, it runs with 4 096.
    @Test func aNodeRaisesItsOpenFileLimitToTheHardLimit() throws {
        let scratch = try ScratchDirectory()
        let node = try NodeProcess(dataDirectory: scratch.child("node"), launcher: ["prlimit", "--nofile=256:4096"])
        let limits = try String(contentsOfFile: "/proc/\(node.process.processIdentifier)/limits", encoding: .utf8)
        let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        #expect(openFiles.split(separator: " ").filter { !$0.isEmpty }.dropFirst(3).prefix(2) == ["4096", "4096"], "\(openFiles)")
    }

    @Test func sigtermStopsTheNodeCleanly() throws {
        let scratch = try ScratchDirectory()
        let node = try NodeProcess(dataDirectory: scratch.child("node"))
        let pid = node.process.processIdentifier
        kill(pid, SIGTERM)
        node.process.waitUntilExit()
        #expect(node.process.terminationReason == .exit)
        #expect(node.process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/control.sock"))
        // With the node gone, commands open the data directory themselves.
        let status = try Peerdist.run("status", "--data-dir", node.dataDirectory)
        #expect(status.status == 0 && status.standardOutput.contains("(not running)"), "\(status.standardError)")
    }

    @Test func publishWithoutANodeIsRecordedAndServedLater() throws {
        let scratch = try ScratchDirectory()
        let file = scratch.child("original")
        try Helpers.makeFile(file, size: 200_000, seed: 22)
        let data = scratch.child("seeder")
        let published = try Peerdist.run("publish", file, "--data-dir", data, "--json")
        #expect(published.status == 0, "\(published.standardError)")
        let uri = try #require(try json(published)["uri"] as? String)
        #expect(published.standardError.isEmpty)

        let seeder = try NodeProcess(dataDirectory: data)
        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--peer", seeder.address, "--data-dir", scratch.child("leecher"), "-o", output)
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
    }
}

/// One fetch draws from every peer it is given, at once.
@Suite(.serialized) struct SwarmTests {
    @Test func aFetchDrawsFromAllPeersAtOnce() throws {
        // Several pipelines' worth, so that each peer gets requests whichever connects first.
        let (scratch, file, first, uri) = try PublishFetchTests.published(size: 64 * 1024 * 1024, seed: 41)
        let second = try NodeProcess(dataDirectory: scratch.child("second"))
        #expect(try PublishFetchTests.publish(file, on: second) == uri)

        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--peer", first.address, "--peer", second.address, "--peers", "--data-dir", scratch.child("leecher"), "-o", output)
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
        // --peers shows each peer's share.
        #expect(fetch.standardOutput.contains(first.address) && fetch.standardOutput.contains(second.address), "\(fetch.standardOutput)")
        var sent = 0
        for node in [first, second] {
            let status = try Peerdist.run("status", "--data-dir", node.dataDirectory, "--json")
            let counters = (try JSONSerialization.jsonObject(with: status.output) as? [String: Any])?["counters"] as? [String: Any]
            let blocks = try #require(counters?["blocks_sent"] as? Int)
            #expect(blocks > 0, "a peer sent nothing")
            sent += blocks
        }
        // Every block came from one peer or the other. Only the endgame asks twice: a peer that
        // ran dry takes a request's worth of copies of blocks still in flight at the other, again
        // each time it runs dry, so copies are bounded by what is in flight, not by one request.
        // An eighth of the content is far above what that costs and far below asking twice.
        let blocks = 64 * 16
        #expect(sent >= blocks && sent <= blocks + blocks / 8, "\(sent) blocks sent for \(blocks)")
    }
}
