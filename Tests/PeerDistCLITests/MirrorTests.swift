import Foundation
import PeerDistTestHosts
import Testing

/// Mirrors between hosts on one bridge, link-local addresses only, no addresses given: a
/// publisher's tree reaches its followers, and so does every change to it.
@Suite(.serialized) struct MirrorTests {
    @Test(.needsNetworkHosts) func everyKindOfChangeReachesThreeFollowers() throws {
        let network = try NetworkHosts(count: 4)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try Self.makeTree(tree)
        let nodes = try Self.startNodes(on: network, scratch: scratch)
        defer { nodes.forEach { $0.stop() } }
        let name = try Self.publish(tree, on: nodes[0])
        let followed = try (1..<nodes.count).map { index in
            let directory = scratch.child("follower\(index)")
            try Self.follow(name, into: directory, on: nodes[index])
            return directory
        }
        try Self.waitUntilFollowersMatch(tree, followed, nodes: nodes, version: 1)

        // Create, edit, rename, delete, change modes and links, replace a file by a directory.
        let manager = FileManager.default
        try PublishFetchTests.makeFile("\(tree)/docs/new.bin", size: 300_000, seed: 7)
        try Data("edited\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/docs/readme.txt"))
        try manager.moveItem(atPath: "\(tree)/data/large.bin", toPath: "\(tree)/data/renamed.bin")
        try manager.removeItem(atPath: "\(tree)/data/small.bin")
        chmod("\(tree)/tool.sh", 0o700)
        try manager.removeItem(atPath: "\(tree)/latest")
        try manager.createSymbolicLink(atPath: "\(tree)/latest", withDestinationPath: "docs/new.bin")
        try manager.removeItem(atPath: "\(tree)/becomes-dir")
        try manager.createDirectory(atPath: "\(tree)/becomes-dir/inner", withIntermediateDirectories: true)
        try manager.removeItem(atPath: "\(tree)/empty")
        _ = try Self.publish(tree, on: nodes[0])
        try Self.waitUntilFollowersMatch(tree, followed, nodes: nodes, version: 2)
    }

    @Test(.needsNetworkHosts) func insertingOneByteInTheMiddleOfALargeFileMovesLittle() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let size = 100 * 1024 * 1024
        try PublishFetchTests.makeFile("\(tree)/big.bin", size: size, seed: 11)
        let nodes = try Self.startNodes(on: network, scratch: scratch)
        defer { nodes.forEach { $0.stop() } }
        let name = try Self.publish(tree, on: nodes[0])
        let followed = scratch.child("follower")
        try Self.follow(name, into: followed, on: nodes[1])
        try Self.waitUntilFollowersMatch(tree, [followed], nodes: nodes, version: 1)
        let before = try Self.receivedBytes(nodes[1])
        #expect(before >= UInt64(size))
        let payloadBefore = try SwarmFetch.counter("chunk_payload_bytes_received", of: nodes[1])

        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: "\(tree)/big.bin"))
        try handle.seek(toOffset: UInt64(size / 2))
        let tail = try handle.readToEnd() ?? Data()
        try handle.seek(toOffset: UInt64(size / 2))
        try handle.write(contentsOf: Data([0x42]) + tail)
        try handle.close()
        _ = try Self.publish(tree, on: nodes[0])
        try Self.waitUntilFollowersMatch(tree, [followed], nodes: nodes, version: 2)
        let moved = try Self.receivedBytes(nodes[1]) - before
        #expect(moved <= 1 << 20, "\(moved) bytes moved for a one-byte insertion")
        // The chunks around the insertion came as deltas from the ones the follower had there.
        #expect(try SwarmFetch.counter("chunk_deltas_received", of: nodes[1]) >= 1)
        #expect(try SwarmFetch.counter("chunk_deltas_sent", of: nodes[0]) >= 1)
        let payload = try SwarmFetch.counter("chunk_payload_bytes_received", of: nodes[1]) - payloadBefore
        #expect(payload <= 16 * 1024, "\(payload) bytes of chunk payloads for a one-byte insertion")
    }

    @Test(.needsNetworkHosts) func aFollowerCopiesAFileItPublishedInsteadOfFetchingIt() throws {
        let network = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try Self.makeTree(tree)
        try PublishFetchTests.makeFile("\(tree)/data/bulk.bin", size: 16 << 20, seed: 12)
        let nodes = try Self.startNodes(on: network, scratch: scratch)
        defer { nodes.forEach { $0.stop() } }
        // The follower holds the bulk of the tree already, as a file it published.
        let own = scratch.child("own.bin")
        try FileManager.default.copyItem(atPath: "\(tree)/data/bulk.bin", toPath: own)
        _ = try PublishFetchTests.publish(own, on: nodes[1])
        let name = try Self.publish(tree, on: nodes[0])
        let followed = scratch.child("follower")
        try Self.follow(name, into: followed, on: nodes[1])
        try Self.waitUntilFollowersMatch(tree, [followed], nodes: nodes, version: 1)
        let chunks = try SwarmFetch.counter("chunk_bytes_received", of: nodes[1])
        #expect(chunks > 0 && chunks < 4 << 20, "\(chunks) chunk bytes received for a tree of which 16 MiB were held")
    }

    @Test(.needsNetworkHosts) func aWatchedDirectoryIsRepublishedWithoutBeingAsked() throws {
        let mirror = try MirrorFixture.make()
        defer { mirror.stopAll() }
        // Publishing again with --watch changes only how the node follows the directory.
        _ = try Self.publish(mirror.tree, on: mirror.nodes[0], watch: true)

        try Data("changed while watched\n".utf8).write(to: URL(fileURLWithPath: "\(mirror.tree)/docs/readme.txt"))
        try FileManager.default.createDirectory(atPath: "\(mirror.tree)/fresh/deeper", withIntermediateDirectories: true)
        try Data("in a new directory\n".utf8).write(to: URL(fileURLWithPath: "\(mirror.tree)/fresh/deeper/note.txt"))
        try Self.waitUntilFollowersMatch(mirror.tree, mirror.followed, nodes: mirror.nodes, version: nil)
    }

    @Test(.needsNetworkHosts) func twentyThousandSmallFilesMirror() throws {
        let mirror = try MirrorFixture.make(timeout: 240) { tree in
            for index in 0..<20_000 {
                let directory = "\(tree)/d\(index % 50)/e\(index % 7)"
                if index < 350 { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
                var bytes = [UInt8](repeating: 0, count: 1 + (index * 7919) % 4000)
                for position in bytes.indices { bytes[position] = UInt8(truncatingIfNeeded: (index &* 31) ^ position) }
                try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/f\(index)"))
            }
        }
        // Made (and compared once on version 1) by the fixture.
        mirror.stopAll()
    }

    @Test(.needsNetworkHosts) func aLocalChangeOnAFollowerIsMovedAsideNotLost() throws {
        let mirror = try MirrorFixture.make()
        defer { mirror.stopAll() }
        let followed = mirror.follower
        try Data("the follower's own words\n".utf8).write(to: URL(fileURLWithPath: "\(followed)/docs/readme.txt"))
        try Data("the publisher's words\n".utf8).write(to: URL(fileURLWithPath: "\(mirror.tree)/docs/readme.txt"))
        _ = try Self.publish(mirror.tree, on: mirror.nodes[0])
        try Self.waitUntil(version: 2, followers: [mirror.nodes[1]])
        let published = try String(contentsOfFile: "\(followed)/docs/readme.txt", encoding: .utf8)
        #expect(published == "the publisher's words\n")
        let aside = try FileManager.default.contentsOfDirectory(atPath: "\(followed)/docs").filter { $0.hasPrefix("readme.txt.peerdist-conflict") }
        try #require(aside.count == 1, "no copy of the local change beside the file: \(aside)")
        #expect(try String(contentsOfFile: "\(followed)/docs/\(aside[0])", encoding: .utf8) == "the follower's own words\n")
    }

    // MARK: Helpers

    /// Files of several sizes, nested and empty directories, a symlink, a file that becomes a
    /// directory later, and modes other than the default.
    static func makeTree(_ root: String) throws {
        let manager = FileManager.default
        for directory in ["docs", "data/nested/deep", "empty", "becomes-dir-parent"] {
            try manager.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: "\(root)/docs/readme.txt"))
        try PublishFetchTests.makeFile("\(root)/data/large.bin", size: 3 * 1024 * 1024 + 17, seed: 1)
        try PublishFetchTests.makeFile("\(root)/data/small.bin", size: 1000, seed: 2)
        try PublishFetchTests.makeFile("\(root)/data/nested/deep/mid.bin", size: 200_000, seed: 3)
        _ = manager.createFile(atPath: "\(root)/data/zero-length", contents: nil)
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: "\(root)/tool.sh"))
        chmod("\(root)/tool.sh", 0o755)
        chmod("\(root)/data/small.bin", 0o600)
        try Data("file for now\n".utf8).write(to: URL(fileURLWithPath: "\(root)/becomes-dir"))
        try manager.createSymbolicLink(atPath: "\(root)/latest", withDestinationPath: "data/large.bin")
    }

    static func startNodes(on network: NetworkHosts, scratch: ScratchDirectory) throws -> [NodeProcess] {
        try network.hosts.enumerated().map { index, host in
            try NodeProcess(dataDirectory: scratch.child("node\(index)"), listen: "[::]:0", namespace: host.namespace)
        }
    }

    static func publish(_ tree: String, on node: NodeProcess, watch: Bool = false) throws -> String {
        let result = try Peerdist.run(["mirror", "publish", tree, "--name", "tree", "--data-dir", node.dataDirectory, "--json"] + (watch ? ["--watch"] : []))
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: result.output) as? [String: Any],
              let name = object["name"] as? String
        else { throw PublishFetchTests.CommandFailed(result: result) }
        return name
    }

    static func follow(_ name: String, into directory: String, on node: NodeProcess) throws {
        let result = try Peerdist.run("mirror", "follow", name, directory, "--data-dir", node.dataDirectory, "--json")
        guard result.status == 0 else { throw PublishFetchTests.CommandFailed(result: result) }
    }

    static func mirrorStatus(_ node: NodeProcess) throws -> [String: Any]? {
        let result = try Peerdist.run("mirror", "status", "--data-dir", node.dataDirectory, "--json")
        let object = try JSONSerialization.jsonObject(with: result.output) as? [String: Any]
        return (object?["mirrors"] as? [[String: Any]])?.first
    }

    static func receivedBytes(_ node: NodeProcess) throws -> UInt64 {
        UInt64(try SwarmFetch.counter("chunk_bytes_received", of: node) + SwarmFetch.counter("manifest_bytes_received", of: node))
    }

    /// Waits until every follower's node holds `version` with nothing pending (`mirror wait`).
    static func waitUntil(version: UInt64, followers: [NodeProcess], timeout: TimeInterval = 90) throws {
        guard let name = try followers.first.flatMap({ try mirrorStatus($0)?["name"] as? String }) else {
            Issue.record("the follower lists no mirror")
            throw TimedOut()
        }
        for follower in followers {
            let result = try Peerdist.run(["mirror", "wait", name, "--version", "\(version)", "--timeout", "\(Int(timeout))", "--data-dir", follower.dataDirectory])
            if result.status != 0 {
                Issue.record("a follower did not reach version \(version): \(result.standardError)")
                throw TimedOut()
            }
        }
    }

    struct TimedOut: Error {}

    static func number(_ value: Any?) -> UInt64? { (value as? NSNumber)?.uint64Value }

    /// Waits for the version, then compares every follower's tree with the publisher's.
    static func waitUntilFollowersMatch(
        _ tree: String, _ followed: [String], nodes: [NodeProcess], version: UInt64?, timeout: TimeInterval = 90
    ) throws {
        if let version {
            try waitUntil(version: version, followers: Array(nodes.dropFirst()), timeout: timeout)
        } else {
            // A watched tree: wait for the publisher to notice, then for the followers.
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline, followed.contains(where: { TreeComparison.firstDifference(tree, $0) != nil }) {
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        for directory in followed {
            let difference = TreeComparison.firstDifference(tree, directory)
            #expect(difference == nil, "\(directory): \(difference ?? "")")
        }
    }
}
