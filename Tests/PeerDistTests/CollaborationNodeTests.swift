import Foundation
import Logging
import NIOCore
import PeerDistCollaboration
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistWire

/// Peer Collaboration inside one node: what People Near Me and a watcher accept, and what a
/// peer outside a private audience is told.
@Suite struct CollaborationNodeTests {
    static func announcement(_ name: String, _ identity: NodeIdentity, status: PresenceStatus = .online, sequence: UInt64? = nil) throws -> NearMeAnnouncement {
        NearMeAnnouncement(
            details: try PersonDetails(displayName: name), status: status, port: 7000, identity: identity,
            sequence: sequence ?? UInt64(Date().timeIntervalSince1970 * 1000))
    }

    @Test func nearMeRefusesForgedReplayedAndStaleAnnouncements() throws {
        let people = PeopleNearMe()
        let own = NodeIdentity.generate().publicKey
        let alice = NodeIdentity.generate()
        let mallory = NodeIdentity.generate()

        // Mallory's announcement with Alice's key spliced in: signed by another key.
        var forged = try Self.announcement("Alice", mallory).encoded()
        forged.replaceSubrange(5..<37, with: alice.publicKey.bytes)
        #expect(!people.heard(forged, from: "fe80::9%eth0", own: own))
        #expect(people.list { _ in false }.isEmpty)

        // Alice is heard, then changes status; her first announcement, replayed, changes nothing.
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let first = try Self.announcement("Alice", alice, status: .online, sequence: now - 2000)
        let second = try Self.announcement("Alice", alice, status: .busy, sequence: now - 1000)
        #expect(people.heard(first.encoded(), from: "fe80::1%eth0", own: own))
        #expect(!people.heard(second.encoded(), from: "fe80::1%eth0", own: own))
        #expect(!people.heard(first.encoded(), from: "fe80::1%eth0", own: own))
        #expect(people.list { _ in false }.map(\.status) == [.busy])

        // Made ten minutes ago (a recording played back after the window forgot it): refused.
        let stale = try Self.announcement("Bob", NodeIdentity.generate(), sequence: now - 600_000)
        #expect(!people.heard(stale.encoded(), from: "fe80::2%eth0", own: own))
        #expect(people.list { _ in false }.count == 1)
        let refusals = people.refusalCounts
        #expect(refusals["bad signature"] == 1 && refusals["replayed"] == 1 && refusals["expired"] == 1, "\(refusals)")
    }

    @Test func aNearMeAnnouncementTravelsInADiscoveryDatagram() throws {
        let bytes = try Self.announcement("Alice", NodeIdentity.generate()).encoded()
        let message = DiscoveryMessage.nearMe(nonce: 9, announcement: bytes)
        #expect(DiscoveryMessage(decoding: message.encoded()) == message)
        let oversized = DiscoveryMessage.nearMe(nonce: 9, announcement: [UInt8](repeating: 1, count: DiscoveryMessage.maximumAnnouncement + 1))
        #expect(DiscoveryMessage(decoding: oversized.encoded()) == nil)
    }

    @Test func aWatcherRefusesAPresenceThatIsNotTheContactsOrIsOlder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let collaboration = try Collaboration(dataDirectory: directory, identity: .generate(), peerDirectory: PeerDirectory(), logger: Logger(label: "test"))
        let alice = NodeIdentity.generate()
        let mallory = NodeIdentity.generate()

        let current = try Presence(status: .away, note: "lunch", identity: alice, sequence: 2000)
        try collaboration.received(presence: current, objects: [], from: alice.publicKey)
        #expect(collaboration.watched.state(of: alice.publicKey)?.presence == current)

        // Signed by someone else, on Alice's connection: refused, nothing changes.
        let forged = try Presence(status: .online, note: "", identity: mallory, sequence: 3000)
        #expect(throws: CollaborationError.self) { try collaboration.received(presence: forged, objects: [], from: alice.publicKey) }
        // An older presence of Alice's, replayed: refused.
        let older = try Presence(status: .online, note: "", identity: alice, sequence: 1000)
        #expect(throws: CollaborationError.self) { try collaboration.received(presence: older, objects: [], from: alice.publicKey) }
        // The same one again (a reconnection starts with it): accepted, unchanged.
        try collaboration.received(presence: current, objects: [], from: alice.publicKey)
        #expect(collaboration.watched.state(of: alice.publicKey)?.presence == current)
        #expect(collaboration.watched.state(of: alice.publicKey)?.reachable == true)
    }

    @Test func privateContentIsAnsweredToOthersExactlyAsUnknownContent() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-private-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = "\(directory)/content"
        try Data((0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: file))
        let node = try PeerNode(
            configuration: PeerNode.Configuration(dataDirectory: DataDirectory(path: "\(directory)/node"), listen: PeerAddress(host: "::1", port: 0)),
            logger: Logger(label: "test"))
        let reader = NodeIdentity.generate()
        let published = try await node.publish(path: file, version: .v1, audience: [reader.publicKey])
        let running = Task { try await node.run() }
        defer { running.cancel() }
        while node.listeningAddresses.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        let port = try #require(PeerAddress(parsing: node.listeningAddresses[0])?.port)
        let segment = try #require(published.information.segments.first)
        let unknown = HashValue([UInt8](repeating: 0x5a, count: 32))

        // What a stranger is told of the private content, and of content that does not exist.
        let stranger = NodeIdentity.generate()
        let privateAnswers = try await Self.answers(port: port, as: stranger, discoveryKey: published.contentID.discoveryKey, segmentID: segment.segmentID)
        let unknownAnswers = try await Self.answers(port: port, as: stranger, discoveryKey: unknown, segmentID: unknown)
        #expect(privateAnswers == unknownAnswers)
        #expect(privateAnswers == ["content information 0", "availability 0", "block not held"])
        // The reader is told who may read it, and gets it.
        let readerAnswers = try await Self.answers(port: port, as: reader, discoveryKey: published.contentID.discoveryKey, segmentID: segment.segmentID)
        #expect(readerAnswers.first == "audience 1")
        #expect(readerAnswers.contains { $0.hasPrefix("content information") && $0 != "content information 0" })
        #expect(readerAnswers.contains("block held"))
        running.cancel()
        _ = await running.result
    }

    /// The replies to a Content Information, an availability and a block request, in words.
    static func answers(port: Int, as identity: NodeIdentity, discoveryKey: HashValue, segmentID: HashValue) async throws -> [String] {
        let (channel, _) = try await PeerNetwork.connect(host: "::1", port: port, identity: identity)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.getContentInformation(requestID: 1, discoveryKey: discoveryKey))
            try await outbound.write(.getAvailability(requestID: 2, discoveryKey: discoveryKey))
            try await outbound.write(.getBlocks(requestID: 3, segmentID: segmentID, ranges: [BlockRange(index: 0, count: 1)]))
            var answers: [String] = []
            for try await message in inbound {
                switch message {
                case .collaboration(_, let kind, let payload):
                    if case .audience(let keys) = try CollaborationMessage(kind: kind, payload: payload) { answers.append("audience \(keys.count)") }
                case .contentInformation(_, let total, _, _): answers.append("content information \(total)")
                case .availability(_, let count, _, _): answers.append("availability \(count)")
                case .block(_, _, let sealed): answers.append(sealed.flags.contains(.notHeld) ? "block not held" : "block held")
                case .replyEnd: return answers
                default: answers.append("other")
                }
            }
            return answers
        }
    }
}
