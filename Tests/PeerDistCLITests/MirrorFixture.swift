import Foundation
import PeerDistTestHosts
import Testing

/// A publisher and followers on a bridge, each a `serve` node, the followers on version 1 of the
/// publisher's tree.
struct MirrorFixture {
    let network: NetworkHosts
    let scratch: ScratchDirectory
    let nodes: [NodeProcess]
    let name: String
    let tree: String
    /// Each follower's directory.
    let followed: [String]
    /// A copy of version 1, when asked for.
    let version1: String?

    var follower: String { followed[0] }

    /// `makeTree` fills the publisher's tree (default:
    /// `MirrorTests.makeTree`).
    static func make(
        hosts: Int = 2, publisherArguments: [String] = [], keepingVersion1: Bool = false, timeout: TimeInterval = 90,
        makeTree: (String) throws -> Void = MirrorTests.makeTree
    ) throws -> MirrorFixture {
        let network = try NetworkHosts(count: hosts)
        let scratch = try ScratchDirectory()
        let tree = scratch.child("tree")
        try makeTree(tree)
        let nodes = try network.hosts.enumerated().map { index, host in
            try NodeProcess(
                dataDirectory: scratch.child("node\(index)"), listen: "[::]:0", namespace: host.namespace,
                extraArguments: index == 0 ? publisherArguments : [])
        }
        let name = try MirrorTests.publish(tree, on: nodes[0])
        let followed = try (1..<hosts).map { index in
            let directory = scratch.child("follower\(index)")
            try MirrorTests.follow(name, into: directory, on: nodes[index])
            return directory
        }
        try MirrorTests.waitUntilFollowersMatch(tree, followed, nodes: nodes, version: 1, timeout: timeout)
        var version1: String?
        if keepingVersion1 {
            version1 = scratch.child("version1")
            let copy = try Peerdist.runTool(["cp", "-a", tree, scratch.child("version1")])
            try #require(copy.status == 0, "\(copy.standardError)")
        }
        return MirrorFixture(network: network, scratch: scratch, nodes: nodes, name: name, tree: tree, followed: followed, version1: version1)
    }

    /// A fixture whose publisher sends at 4 MiB/s, with a copy of version 1, caught while the
    /// first follower is part-way through fetching version 2.
    static func midUpdate() throws -> MirrorFixture {
        let setup = try make(publisherArguments: ["--max-upload", "4MiB"], keepingVersion1: true)
        try setup.changeAndPublishVersion2()
        try setup.waitUntilFetching()
        return setup
    }

    /// Kills node `index` outright (SIGKILL) and waits until it is gone.
    func killNode(_ index: Int) {
        kill(nodes[index].process.processIdentifier, SIGKILL)
        nodes[index].process.waitUntilExit()
    }

    /// Starts node `index` again, on its data directory and in its namespace.
    func restartNode(_ index: Int) throws -> NodeProcess {
        try NodeProcess(dataDirectory: nodes[index].dataDirectory, listen: "[::]:0", namespace: network.hosts[index].namespace)
    }

    /// Version 2: an edited file, a removed one, and 40 MiB of new content to fetch.
    func changeAndPublishVersion2() throws {
        try Data("version two\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/docs/readme.txt"))
        try FileManager.default.removeItem(atPath: "\(tree)/data/small.bin")
        try PublishFetchTests.makeFile("\(tree)/data/new.bin", size: 40 * 1024 * 1024, seed: 21)
        _ = try MirrorTests.publish(tree, on: nodes[0])
    }

    /// Waits until the first follower has part of version 2 and lacks the rest.
    func waitUntilFetching() throws {
        try Self.eventually("the follower never started fetching version 2") {
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
