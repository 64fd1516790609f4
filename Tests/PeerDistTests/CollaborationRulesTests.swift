import Foundation
import Logging
import PeerDistCollaboration
import Testing
@testable import PeerDist
@testable import PeerDistWire

/// Who may invite me and who may read my objects, by the owner's settings.
@Suite struct CollaborationRulesTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-rules-\(UUID().uuidString)").path

    func collaboration() throws -> Collaboration {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try Collaboration(dataDirectory: directory, identity: .generate(), peerDirectory: PeerDirectory(), logger: Logger(label: "test"))
    }

    static func card(_ name: String, _ identity: NodeIdentity) throws -> ContactCard {
        ContactCard(details: try PersonDetails(displayName: name), identity: identity)
    }

    @Test func invitationsFollowThePolicy() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let collaboration = try collaboration()
        let contact = NodeIdentity.generate()
        let muted = NodeIdentity.generate()
        let nearby = NodeIdentity.generate()
        let stranger = NodeIdentity.generate()
        try collaboration.book.add(try Self.card("Bob", contact))
        try collaboration.book.add(try Self.card("Dan", muted))
        try collaboration.book.updateContact("Dan") { $0.mayInvite = false }
        let announcement = NearMeAnnouncement(
            details: try PersonDetails(displayName: "Eve"), status: .online, port: 7000, identity: nearby,
            sequence: UInt64(Date().timeIntervalSince1970 * 1000))
        collaboration.nearMe.heard(announcement.encoded(), from: "fe80::5%eth0", own: collaboration.identity.publicKey)

        // Contacts allowed to invite, by default.
        #expect(collaboration.mayInvite(contact.publicKey))
        #expect(!collaboration.mayInvite(muted.publicKey))
        #expect(!collaboration.mayInvite(nearby.publicKey))
        #expect(!collaboration.mayInvite(stranger.publicKey))
        // Anyone near me, too (a contact who may not invite still may not).
        try collaboration.book.updateSettings { $0.invitationPolicy = .nearMe }
        #expect(collaboration.mayInvite(contact.publicKey) && collaboration.mayInvite(nearby.publicKey))
        #expect(!collaboration.mayInvite(muted.publicKey) && !collaboration.mayInvite(stranger.publicKey))
        // Nobody.
        try collaboration.book.updateSettings { $0.invitationPolicy = .nobody }
        #expect(!collaboration.mayInvite(contact.publicKey) && !collaboration.mayInvite(nearby.publicKey))
    }

    @Test func objectsAreReadByWatchersAndNearMeOnesByAnyoneWhilePeopleNearMeIsOn() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let collaboration = try collaboration()
        let contact = NodeIdentity.generate()
        let blocked = NodeIdentity.generate()
        let stranger = NodeIdentity.generate()
        try collaboration.book.add(try Self.card("Bob", contact))
        try collaboration.book.add(try Self.card("Dan", blocked))
        try collaboration.book.updateContact("Dan") { $0.mayWatchMe = false }
        try collaboration.book.setObject(try PublishedObject(name: "private", data: [1], scope: .contacts))
        try collaboration.book.setObject(try PublishedObject(name: "public", data: [2], scope: .nearMe))

        #expect(collaboration.visibleObjects(for: contact.publicKey).map(\.name) == ["private", "public"])
        #expect(collaboration.visibleObjects(for: blocked.publicKey).isEmpty)
        #expect(collaboration.visibleObjects(for: stranger.publicKey).isEmpty)
        #expect(!collaboration.mayReadCard(stranger.publicKey))
        try collaboration.setNearMe(true)
        #expect(collaboration.visibleObjects(for: stranger.publicKey).map(\.name) == ["public"])
        #expect(collaboration.visibleObjects(for: blocked.publicKey).map(\.name) == ["public"])
        #expect(collaboration.mayReadCard(stranger.publicKey))
    }
}
