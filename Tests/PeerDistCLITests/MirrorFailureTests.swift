import Foundation
import PeerDistTestHosts
import Testing

/// Mirrors when a node dies mid-update: the follower stays on its last complete version, never
/// on a mixture, and finishes the new one once it can.
@Suite(.serialized) struct MirrorFailureTests {
    @Test(.needsNetworkHosts) func aPublisherThatVanishesMidUpdateLeavesTheFollowerOnItsVersion() throws {
        let setup = try MirrorFixture.midUpdate()
        defer { setup.stopAll() }
        setup.killNode(0)

        // The fetch fails; the directory is still exactly version 1.
        try MirrorFixture.eventually("the follower never gave up on the vanished publisher") {
            try MirrorTests.mirrorStatus(setup.nodes[1])?["error"] != nil
        }
        #expect(TreeComparison.firstDifference(try #require(setup.version1), setup.follower) == nil)
        #expect(MirrorTests.number(try MirrorTests.mirrorStatus(setup.nodes[1])?["version"]) == 1)

        // The publisher comes back: the follower finishes version 2.
        let publisher = try setup.restartNode(0)
        defer { publisher.stop() }
        try MirrorTests.waitUntil(version: 2, followers: [setup.nodes[1]])
        #expect(TreeComparison.firstDifference(setup.tree, setup.follower) == nil)
    }

    @Test(.needsNetworkHosts) func aFollowerKilledMidUpdateComesBackOnOneVersion() throws {
        let setup = try MirrorFixture.midUpdate()
        defer { setup.stopAll() }
        setup.killNode(1)
        #expect(TreeComparison.firstDifference(try #require(setup.version1), setup.follower) == nil)

        let follower = try setup.restartNode(1)
        defer { follower.stop() }
        try MirrorTests.waitUntil(version: 2, followers: [follower])
        #expect(TreeComparison.firstDifference(setup.tree, setup.follower) == nil)
        #expect(!FileManager.default.fileExists(atPath: "\(setup.follower)/.peerdist-staging"))
    }
}
