import Foundation
import Testing

/// Mirrors when a node dies mid-update: the follower stays on its last complete version, never
/// on a mixture, and finishes the new one once it can.
@Suite(.serialized) struct MirrorFailureTests {
    @Test func aPublisherThatVanishesMidUpdateLeavesTheFollowerOnItsVersion() throws {
        let setup = try Setup.make(publisherArguments: ["--max-upload", "4MiB"])
        guard let setup else { return }
        defer { setup.stopAll() }
        try setup.changeAndPublishVersion2()
        try setup.waitUntilFetching()
        kill(setup.nodes[0].process.processIdentifier, SIGKILL)
        setup.nodes[0].process.waitUntilExit()

        // The fetch fails; the directory is still exactly version 1.
        try Setup.eventually("the follower never gave up on the vanished publisher") {
            try MirrorTests.mirrorStatus(setup.nodes[1])?["error"] != nil
        }
        #expect(MirrorTreeComparison.firstDifference(setup.version1, setup.followed) == nil)
        #expect(MirrorTests.number(try MirrorTests.mirrorStatus(setup.nodes[1])?["version"]) == 1)

        // The publisher comes back: the follower finishes version 2.
        let publisher = try NodeProcess(dataDirectory: setup.nodes[0].dataDirectory, listen: "[::]:0", namespace: setup.network.hosts[0].namespace)
        defer { publisher.stop() }
        try MirrorTests.waitUntil(version: 2, followers: [setup.nodes[1]])
        #expect(MirrorTreeComparison.firstDifference(setup.tree, setup.followed) == nil)
    }

    @Test func aFollowerKilledMidUpdateComesBackOnOneVersion() throws {
        let setup = try Setup.make(publisherArguments: ["--max-upload", "4MiB"])
        guard let setup else { return }
        defer { setup.stopAll() }
        try setup.changeAndPublishVersion2()
        try setup.waitUntilFetching()
        kill(setup.nodes[1].process.processIdentifier, SIGKILL)
        setup.nodes[1].process.waitUntilExit()
        #expect(MirrorTreeComparison.firstDifference(setup.version1, setup.followed) == nil)

        let follower = try NodeProcess(dataDirectory: setup.nodes[1].dataDirectory, listen: "[::]:0", namespace: setup.network.hosts[1].namespace)
        defer { follower.stop() }
        try MirrorTests.waitUntil(version: 2, followers: [follower])
        #expect(MirrorTreeComparison.firstDifference(setup.tree, setup.followed) == nil)
        #expect(!FileManager.default.fileExists(atPath: "\(setup.followed)/.peerdist-staging"))
    }

    /// A publisher and a follower on version 1 of a small tree, and a copy of that version.
    struct Setup {
        let network: BridgedNetwork
        let scratch: ScratchDirectory
        let nodes: [NodeProcess]
        let tree: String
        let version1: String
        let followed: String

        static func make(publisherArguments: [String]) throws -> Setup? {
            guard let network = try BridgedNetwork.make(hosts: 2) else { return nil }
            let scratch = try ScratchDirectory()
            let tree = scratch.child("tree")
            try MirrorTests.makeTree(tree)
            let nodes = [
                try NodeProcess(dataDirectory: scratch.child("node0"), listen: "[::]:0", namespace: network.hosts[0].namespace, extraArguments: publisherArguments),
                try NodeProcess(dataDirectory: scratch.child("node1"), listen: "[::]:0", namespace: network.hosts[1].namespace),
            ]
            let name = try MirrorTests.publish(tree, on: nodes[0])
            let followed = scratch.child("follower")
            try MirrorTests.follow(name, into: followed, on: nodes[1])
            try MirrorTests.waitUntilFollowersMatch(tree, [followed], nodes: nodes, version: 1)
            let version1 = scratch.child("version1")
            let copy = try Peerdist.runTool(["cp", "-a", tree, version1])
            try #require(copy.status == 0, "\(copy.standardError)")
            return Setup(network: network, scratch: scratch, nodes: nodes, tree: tree, version1: version1, followed: followed)
        }

        /// Version 2: an edited file, a removed one, and 40 MiB of new content to fetch.
        func changeAndPublishVersion2() throws {
            try Data("version two\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/docs/readme.txt"))
            try FileManager.default.removeItem(atPath: "\(tree)/data/small.bin")
            try PublishFetchTests.makeFile("\(tree)/data/new.bin", size: 40 * 1024 * 1024, seed: 21)
            _ = try MirrorTests.publish(tree, on: nodes[0])
        }

        /// Waits until the follower has part of version 2 and lacks the rest.
        func waitUntilFetching() throws {
            try Setup.eventually("the follower never started fetching version 2") {
                guard let status = try MirrorTests.mirrorStatus(nodes[1]), MirrorTests.number(status["pending_version"]) == 2,
                      let pending = MirrorTests.number(status["pending_bytes"])
                else { return false }
                return pending > 0 && pending < 30 * 1024 * 1024
            }
        }

        func stopAll() {
            nodes.forEach { $0.stop() }
        }

        static func eventually(_ failure: String, timeout: TimeInterval = 60, _ condition: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if try condition() { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
            Issue.record(Comment(rawValue: failure))
            throw MirrorTests.TimedOut()
        }
    }
}
