import Foundation
import PeerDistTestHosts
import Testing

/// Directories by hash between hosts on one bridge: `publish DIR` prints one ID for the tree,
/// `fetch ID -o DIR` materialises it whole (or one file, or its listing), chunks shared with what
/// the fetcher holds are not sent again, and a fetcher killed half-way resumes.
@Suite(.serialized) struct DirectorySnapshotTests {
    @Test(.needsNetworkHosts) func aTreeOfEveryKindTravelsByOneIDFoundOnTheLAN() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try MirrorTests.makeTree(tree)
        // Deep nesting, and empty directories at the bottom and beside it.
        let deep = (0..<60).map { "level\($0)" }.joined(separator: "/")
        try FileManager.default.createDirectory(atPath: "\(tree)/\(deep)/empty-at-the-bottom", withIntermediateDirectories: true)
        try Data("at the bottom\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/\(deep)/deepest.txt"))
        try FileManager.default.createSymbolicLink(atPath: "\(tree)/to-the-bottom", withDestinationPath: "\(deep)/deepest.txt")
        try FileManager.default.createSymbolicLink(atPath: "\(tree)/docs/up-and-over", withDestinationPath: "../data/nested")
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        defer { publisher.stop() }
        let published = try Self.publish(tree, on: publisher)
        #expect(published.uri.hasPrefix("peerdist:tree:") && published.uri.count == "peerdist:tree:".count + 52)
        #expect(published.files == 8 && published.links == 3)
        // The same tree publishes to the same ID.
        #expect(try Self.publish(tree, on: publisher).uri == published.uri)

        // No address given: the holder is found on the LAN.
        let listed = try network.peerdist(in: network.second, ["fetch", published.uri, "--list", "--json", "--data-dir", scratch.child("lister")])
        try #require(listed.status == 0, "\(listed.standardError)")
        let entries = try #require((try JSONSerialization.jsonObject(with: listed.output) as? [String: Any])?["entries"] as? [[String: Any]])
        let paths = Set(entries.compactMap { $0["path"] as? String })
        #expect(paths.contains("\(deep)/empty-at-the-bottom") && paths.contains("empty") && paths.contains("to-the-bottom"))
        #expect(entries.first { $0["path"] as? String == "latest" }?["target"] as? String == "data/large.bin")
        let plain = try network.peerdist(in: network.second, ["fetch", published.uri, "--list", "--data-dir", scratch.child("lister")])
        #expect(plain.standardOutput.contains("latest -> data/large.bin") && plain.standardOutput.contains("d 0755"), "\(plain.standardOutput)")

        let copy = scratch.child("copy")
        let fetched = try network.peerdist(in: network.second, ["fetch", published.uri, "-o", copy, "--json", "--data-dir", scratch.child("fetcher")])
        try #require(fetched.status == 0, "\(fetched.standardError)")
        let events = Self.events(fetched)
        #expect(events.contains { $0["event"] as? String == "progress" })
        let done = try #require(events.last)
        #expect(done["event"] as? String == "done" && done["content_id"] as? String == published.hex)
        #expect(TreeComparison.firstDifference(tree, copy) == nil, "\(TreeComparison.firstDifference(tree, copy) ?? "")")
        // Nothing is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains(".peerdist-") }.isEmpty)

        // One file of it, by path; and a path that is not a file is refused.
        let single = scratch.child("mid.bin")
        let file = try network.peerdist(in: network.second, ["fetch", "\(published.uri)/data/nested/deep/mid.bin", "-o", single, "--data-dir", scratch.child("single")])
        try #require(file.status == 0, "\(file.standardError)")
        #expect(FileComparison.identical(single, "\(tree)/data/nested/deep/mid.bin"))
        let notAFile = try network.peerdist(in: network.second, ["fetch", "\(published.uri)/data/nested", "-o", scratch.child("nested"), "--data-dir", scratch.child("single")])
        #expect(notAFile.status == 1 && notAFile.errorLines.count == 1 && notAFile.standardError.contains("has no file"), "\(notAFile.standardError)")
        #expect(!FileManager.default.fileExists(atPath: scratch.child("nested")))
    }

    @Test(.needsNetworkHosts) func twentyThousandFilesInOneSnapshot() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        // Each file's bytes are `(index × 31) ^ position`: 256 patterns, made once.
        let patterns = (0..<256).map { key in (0..<4000).map { UInt8(truncatingIfNeeded: key ^ $0) } }
        for index in 0..<20_000 {
            let directory = "\(tree)/d\(index % 50)/e\(index % 7)"
            if index < 350 { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            let pattern = patterns[(index &* 31) & 0xFF]
            // Plain system calls: `Data.write` costs milliseconds a file here.
            let descriptor = open("\(directory)/f\(index)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(descriptor >= 0)
            let count = 1 + (index * 7919) % 4000
            let written = pattern.withUnsafeBytes { write(descriptor, $0.baseAddress, count) }
            close(descriptor)
            try #require(written == count)
        }
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        defer { publisher.stop() }
        let published = try Self.publish(tree, on: publisher)
        #expect(published.files == 20_000)
        let copy = scratch.child("copy")
        let fetched = try network.peerdist(
            in: network.second, ["fetch", published.uri, "-o", copy, "--peer", Self.address(of: publisher, on: network), "--data-dir", scratch.child("fetcher")])
        try #require(fetched.status == 0, "\(fetched.standardError)")
        #expect(TreeComparison.firstDifference(tree, copy) == nil, "\(TreeComparison.firstDifference(tree, copy) ?? "")")
    }

    @Test(.needsNetworkHosts) func aGibibyteFileInASnapshot() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try FileManager.default.createDirectory(atPath: "\(tree)/big", withIntermediateDirectories: true)
        // Random bytes: every chunk differs, so all of it is cut, hashed, sent and checked.
        let made = try Peerdist.runTool(["sh", "-c", "head -c \(1 << 30) /dev/urandom > '\(tree)/big/one.gib'"])
        try #require(made.status == 0, "\(made.standardError)")
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        defer { publisher.stop() }
        let published = try Self.publish(tree, on: publisher)
        #expect(published.bytes == 1 << 30)
        let copy = scratch.child("copy")
        let fetched = try network.peerdist(
            in: network.second, ["fetch", published.uri, "-o", copy, "--json", "--peer", Self.address(of: publisher, on: network), "--data-dir", scratch.child("fetcher")])
        try #require(fetched.status == 0, "\(fetched.standardError)")
        #expect(Self.number(Self.events(fetched).last?["received_bytes"]) == 1 << 30)
        #expect(TreeComparison.firstDifference(tree, copy) == nil, "\(TreeComparison.firstDifference(tree, copy) ?? "")")
    }

    @Test(.needsNetworkHosts) func twoSnapshotsSharingMostChunksMoveOnlyTheDifference() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try MirrorTests.makeTree(tree)
        try PublishFetchTests.makeFile("\(tree)/data/bulk.bin", size: 24 << 20, seed: 5)
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        let fetcher = try NodeProcess(dataDirectory: scratch.child("fetcher"), listen: "[::]:0", namespace: network.second)
        defer { [publisher, fetcher].forEach { $0.stop() } }
        let first = try Self.publish(tree, on: publisher)
        let firstFetch = try network.peerdist(in: network.second, ["fetch", first.uri, "-o", scratch.child("first"), "--json", "--data-dir", fetcher.dataDirectory])
        try #require(firstFetch.status == 0, "\(firstFetch.standardError)")
        let receivedBefore = try SwarmFetch.counter("chunk_bytes_received", of: fetcher)
        let sentBefore = try SwarmFetch.counter("chunk_bytes_sent", of: publisher)
        #expect(receivedBefore >= 27 << 20)

        // The second snapshot: one new 1 MiB file and an edited small one; 27 MiB unchanged.
        try PublishFetchTests.makeFile("\(tree)/data/added.bin", size: 1 << 20, seed: 6)
        try Data("second version\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/docs/readme.txt"))
        let second = try Self.publish(tree, on: publisher)
        #expect(second.uri != first.uri)
        let secondFetch = try network.peerdist(in: network.second, ["fetch", second.uri, "-o", scratch.child("second"), "--json", "--data-dir", fetcher.dataDirectory])
        try #require(secondFetch.status == 0, "\(secondFetch.standardError)")
        #expect(TreeComparison.firstDifference(tree, scratch.child("second")) == nil)
        let received = try SwarmFetch.counter("chunk_bytes_received", of: fetcher) - receivedBefore
        let sent = try SwarmFetch.counter("chunk_bytes_sent", of: publisher) - sentBefore
        #expect(received >= 1 << 20 && received <= (1 << 20) + 64 * 1024, "\(received) chunk bytes received for a 1 MiB difference")
        #expect(sent == received, "the publisher sent \(sent), the fetcher received \(received)")
        #expect(Self.number(Self.events(secondFetch).last?["received_bytes"]) == UInt64(received))
    }

    @Test(.needsNetworkHosts) func filesTheFetcherHoldsAsContentAreCopiedNotFetched() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try MirrorTests.makeTree(tree)
        try PublishFetchTests.makeFile("\(tree)/data/mine.bin", size: 12 << 20, seed: 21)
        try PublishFetchTests.makeFile("\(tree)/data/theirs.bin", size: 8 << 20, seed: 22)
        try PublishFetchTests.makeFile("\(tree)/data/added.bin", size: 1 << 20, seed: 23)
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        let fetcher = try NodeProcess(dataDirectory: scratch.child("fetcher"), listen: "[::]:0", namespace: network.second)
        defer { [publisher, fetcher].forEach { $0.stop() } }

        // The fetcher published one of the tree's files itself (version 2, whose segments are cut
        // where mirror chunks are) and fetched another by content ID (version 1).
        let mine = scratch.child("mine.bin")
        try FileManager.default.copyItem(atPath: "\(tree)/data/mine.bin", toPath: mine)
        let ownPublication = try Peerdist.run("publish", mine, "--content-version", "2", "--data-dir", fetcher.dataDirectory, "--json")
        try #require(ownPublication.status == 0, "\(ownPublication.standardError)")
        let theirs = scratch.child("theirs.bin")
        try FileManager.default.copyItem(atPath: "\(tree)/data/theirs.bin", toPath: theirs)
        let theirsURI = try PublishFetchTests.publish(theirs, on: publisher)
        let fetchedFile = try network.peerdist(
            in: network.second, ["fetch", theirsURI, "-o", scratch.child("theirs-fetched.bin"), "--peer", Self.address(of: publisher, on: network), "--data-dir", fetcher.dataDirectory])
        try #require(fetchedFile.status == 0, "\(fetchedFile.standardError)")

        let published = try Self.publish(tree, on: publisher)
        let receivedBefore = try SwarmFetch.counter("chunk_bytes_received", of: fetcher)
        let copy = scratch.child("copy")
        let fetched = try network.peerdist(in: network.second, ["fetch", published.uri, "-o", copy, "--json", "--data-dir", fetcher.dataDirectory])
        try #require(fetched.status == 0, "\(fetched.standardError)")
        #expect(TreeComparison.firstDifference(tree, copy) == nil, "\(TreeComparison.firstDifference(tree, copy) ?? "")")
        // Only the rest of the tree travels: 20 MiB of it were held as content.
        let rest = published.bytes - (20 << 20)
        let received = try #require(Self.number(Self.events(fetched).last?["received_bytes"]))
        #expect(received >= 1 << 20 && received <= rest, "\(received) bytes received; \(rest) are not held as content")
        #expect(try SwarmFetch.counter("chunk_bytes_received", of: fetcher) - receivedBefore == Int(received))
    }

    /// The other way: a node that holds a tree (fetched as a snapshot) and then fetches one of
    /// its files by content ID copies the blocks from its own copy, each verified against the
    /// Content Information; nothing travels but the Content Information.
    @Test(.needsNetworkHosts) func aFileFetchedByIDIsCopiedFromATreeTheNodeHolds() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try MirrorTests.makeTree(tree)
        try PublishFetchTests.makeFile("\(tree)/data/big.bin", size: 6 << 20, seed: 31)
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        let fetcher = try NodeProcess(dataDirectory: scratch.child("fetcher"), listen: "[::]:0", namespace: network.second)
        defer { [publisher, fetcher].forEach { $0.stop() } }
        let published = try Self.publish(tree, on: publisher)
        let copy = scratch.child("copy")
        let fetchedTree = try network.peerdist(in: network.second, ["fetch", published.uri, "-o", copy, "--data-dir", fetcher.dataDirectory])
        try #require(fetchedTree.status == 0, "\(fetchedTree.standardError)")

        let big = scratch.child("big.bin")
        try FileManager.default.copyItem(atPath: "\(tree)/data/big.bin", toPath: big)
        let uri = try PublishFetchTests.publish(big, on: publisher)
        let output = scratch.child("big-fetched.bin")
        let fetched = try network.peerdist(in: network.second, ["fetch", uri, "-o", output, "--json", "--data-dir", fetcher.dataDirectory])
        try #require(fetched.status == 0, "\(fetched.standardError)")
        #expect(FileComparison.identical(big, output))
        #expect(Self.number(Self.events(fetched).last?["received_bytes"]) == 0, "\(fetched.standardOutput)")
    }

    @Test(.needsNetworkHosts) func withoutARunningNodeTheFetchCutsTheFilesItNeeds() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try MirrorTests.makeTree(tree)
        try PublishFetchTests.makeFile("\(tree)/data/bulk.bin", size: 8 << 20, seed: 24)
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        defer { publisher.stop() }
        let published = try Self.publish(tree, on: publisher)
        // Published by a command that ends at once: nothing has been cut into chunks yet.
        let fetcher = scratch.child("fetcher")
        let mine = scratch.child("mine.bin")
        try FileManager.default.copyItem(atPath: "\(tree)/data/bulk.bin", toPath: mine)
        let own = try Peerdist.run("publish", mine, "--data-dir", fetcher)
        try #require(own.status == 0, "\(own.standardError)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(fetcher)/content-chunks")) ?? []).isEmpty)

        let copy = scratch.child("copy")
        let fetched = try network.peerdist(
            in: network.second, ["fetch", published.uri, "-o", copy, "--json", "--peer", Self.address(of: publisher, on: network), "--data-dir", fetcher])
        try #require(fetched.status == 0, "\(fetched.standardError)")
        #expect(TreeComparison.firstDifference(tree, copy) == nil, "\(TreeComparison.firstDifference(tree, copy) ?? "")")
        let rest = published.bytes - (8 << 20)
        let received = try #require(Self.number(Self.events(fetched).last?["received_bytes"]))
        #expect(received <= rest, "\(received) bytes received; \(rest) are not held as content")
        // The list is kept for the next fetch.
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(fetcher)/content-chunks").count == 1)
    }

    @Test(.needsNetworkHosts) func aFileChangedAfterPublishingLendsNoWrongChunk() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try PublishFetchTests.makeFile("\(tree)/bulk.bin", size: 8 << 20, seed: 31)
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first)
        let fetcher = try NodeProcess(dataDirectory: scratch.child("fetcher"), listen: "[::]:0", namespace: network.second)
        defer { [publisher, fetcher].forEach { $0.stop() } }
        let mine = scratch.child("mine.bin")
        try FileManager.default.copyItem(atPath: "\(tree)/bulk.bin", toPath: mine)
        _ = try PublishFetchTests.publish(mine, on: fetcher)
        // A first fetch, of a tree holding another file of the same size, has the node cut the
        // files it holds of that size: mine.bin's chunk list is made now, before the change.
        let decoy = scratch.child("decoy")
        try FileManager.default.createDirectory(atPath: decoy, withIntermediateDirectories: true)
        try PublishFetchTests.makeFile("\(decoy)/other.bin", size: 8 << 20, seed: 77)
        let decoyFetch = try network.peerdist(
            in: network.second, ["fetch", try Self.publish(decoy, on: publisher).uri, "-o", scratch.child("decoy-copy"), "--data-dir", fetcher.dataDirectory])
        try #require(decoyFetch.status == 0, "\(decoyFetch.standardError)")
        let lists = "\(fetcher.dataDirectory)/content-chunks"
        try #require(try FileManager.default.contentsOfDirectory(atPath: lists).count == 1)

        // 1 MiB in the middle rewritten, its size, inode and modification time kept: the store
        // still takes it for the file it published.
        let reference = scratch.child("times")
        try #require(try Peerdist.runTool(["touch", "-r", mine, reference]).status == 0)
        let changed = try Peerdist.runTool(["sh", "-c", "head -c \(1 << 20) /dev/urandom | dd of='\(mine)' bs=1M seek=3 conv=notrunc status=none && touch -r '\(reference)' '\(mine)'"])
        try #require(changed.status == 0, "\(changed.standardError)")

        let published = try Self.publish(tree, on: publisher)
        let copy = scratch.child("copy")
        let fetched = try network.peerdist(in: network.second, ["fetch", published.uri, "-o", copy, "--json", "--data-dir", fetcher.dataDirectory])
        try #require(fetched.status == 0, "\(fetched.standardError)")
        #expect(TreeComparison.firstDifference(tree, copy) == nil, "\(TreeComparison.firstDifference(tree, copy) ?? "")")
        // The rewritten MiB (and the chunks it straddles) came from the publisher, the rest from the file.
        let received = try #require(Self.number(Self.events(fetched).last?["received_bytes"]))
        #expect(received >= 1 << 20 && received <= (1 << 20) + 4 * 128 * 1024, "\(received) bytes received for a 1 MiB change")
    }

    @Test(.needsNetworkHosts) func aFetcherKilledHalfWayResumesAndCompletesIdentical() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try MirrorTests.makeTree(tree)
        try PublishFetchTests.makeFile("\(tree)/data/bulk.bin", size: 40 << 20, seed: 9)
        let publisher = try NodeProcess(dataDirectory: scratch.child("publisher"), listen: "[::]:0", namespace: network.first, extraArguments: ["--max-upload", "8MiB"])
        defer { publisher.stop() }
        let published = try Self.publish(tree, on: publisher)
        let copy = scratch.child("copy")
        let arguments = ["fetch", published.uri, "-o", copy, "--json", "--peer", Self.address(of: publisher, on: network), "--data-dir", scratch.child("fetcher")]

        let events = scratch.child("events")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", network.second, Peerdist.binary.path] + arguments
        try process.run(output: events, error: scratch.child("fetch-errors"))
        // Killed outright once part of the tree has arrived.
        var halfWay = false
        let deadline = Date().addingTimeInterval(60)
        while !halfWay, process.isRunning, Date() < deadline {
            let lines = (try? String(contentsOfFile: events, encoding: .utf8)) ?? ""
            halfWay = lines.split(separator: "\n").contains { line in
                guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let held = Self.number(event["held_bytes"]), let total = Self.number(event["total_bytes"]) else { return false }
                return held > total / 4 && held < total * 3 / 4
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(halfWay, "the fetch never reached half-way: \((try? String(contentsOfFile: scratch.child("fetch-errors"), encoding: .utf8)) ?? "")")
        // Nothing at the destination; the staging beside it holds what was fetched.
        #expect(!FileManager.default.fileExists(atPath: copy))
        let staging = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".copy.peerdist-tree-") }
        #expect(staging.count == 1)

        let resumed = try network.peerdist(in: network.second, arguments)
        try #require(resumed.status == 0, "\(resumed.standardError)")
        #expect(TreeComparison.firstDifference(tree, copy) == nil, "\(TreeComparison.firstDifference(tree, copy) ?? "")")
        let first = try #require(Self.events(resumed).first)
        let total = try #require(Self.number(first["total_bytes"]))
        // The second run starts from what the first kept, and fetches only the rest.
        #expect(try #require(Self.number(first["held_bytes"])) >= total / 4)
        #expect(try #require(Self.number(Self.events(resumed).last?["received_bytes"])) <= total * 3 / 4)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains(".peerdist-") }.isEmpty)
    }

    @Test func everyMistakeIsOneLine() throws {
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try FileManager.default.createDirectory(atPath: "\(tree)/sub", withIntermediateDirectories: true)
        let data = ["--data-dir", scratch.child("node")]
        let published = try Peerdist.run(["publish", tree, "--json"] + data)
        try #require(published.status == 0, "\(published.standardError)")
        let uri = try #require((try JSONSerialization.jsonObject(with: published.output) as? [String: Any])?["uri"] as? String)
        let existing = try scratch.file("existing", bytes: [1])
        let mistakes: [(arguments: [String], status: Int32, message: String)] = [
            (["publish", tree, "--to", "alice"], 1, "--to and --contacts share files only"),
            (["fetch", "peerdist:tree:abc"], 64, "is not a content ID"),
            (["fetch", uri, "--list", "-o", scratch.child("x")], 64, "--list prints the entries"),
            (["fetch", "\(uri)/sub", "--list"], 64, "--list shows a whole directory"),
            (["fetch", uri, "--max-download", "1MiB"], 64, "--max-download applies to files"),
            (["fetch", uri, "--peers"], 64, "--peers shows what each peer sent"),
            (["fetch", uri, "--peer", "[::1]:99999"], 64, "is not a peer address"),
            (["fetch", uri, "-o", existing], 1, "already exists"),
            (["fetch", uri, "-o", scratch.child("missing/parent/out")], 1, "the output's parent must exist"),
            (["fetch", "peerdist:\(String(repeating: "a", count: 52))", "--list"], 64, "is a file's content ID"),
        ]
        for mistake in mistakes {
            let result = try Peerdist.run(mistake.arguments + data)
            #expect(result.status == mistake.status, "\(mistake.arguments): \(result.standardError)")
            #expect(result.errorLines.count == 1 && result.errorLines.first?.contains(mistake.message) == true, "\(mistake.arguments): \(result.standardError)")
        }
    }

    // MARK: Helpers

    struct Published {
        var uri: String
        var hex: String
        var files: Int
        var links: Int
        var bytes: UInt64
    }

    static func publish(_ tree: String, on node: NodeProcess) throws -> Published {
        let result = try Peerdist.run("publish", tree, "--data-dir", node.dataDirectory, "--json")
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: result.output) as? [String: Any],
              let uri = object["uri"] as? String, let hex = object["content_id"] as? String
        else { throw PublishFetchTests.CommandFailed(result: result) }
        return Published(
            uri: uri, hex: hex, files: object["files"] as? Int ?? -1, links: object["links"] as? Int ?? -1, bytes: number(object["bytes"]) ?? 0)
    }

    static func address(of node: NodeProcess, on network: NetworkHosts) -> String {
        network.peerAddress(of: network.hosts[0], from: network.hosts[1], port: node.port)
    }

    /// The `--json` event lines of a fetch.
    static func events(_ result: CommandResult) -> [[String: Any]] {
        result.standardOutput.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func number(_ value: Any?) -> UInt64? { (value as? NSNumber)?.uint64Value }
}
