import Foundation
import PeerDistWire
import Testing

@testable import PeerDistCollaboration

/// Presence and People Near Me announcements: they round trip, carry a signature only their key
/// makes, refuse every truncation, and their sequences make replays harmless.
struct PresenceTests {
    /// Where the key starts in both records: the four-byte magic, then the version.
    static let keyRange = 5..<37

    @Test(arguments: PresenceStatus.allCases)
    func aPresenceSurvivesEncoding(_ status: PresenceStatus) throws {
        let identity = NodeIdentity.generate()
        let presence = try Presence(status: status, note: "in the lab ☕", identity: identity, sequence: 1_767_225_600_123)
        let decoded = try Presence(decoding: presence.encoded())
        #expect(decoded == presence)
        #expect(decoded.key == identity.publicKey)
        #expect(decoded.status == status)
        #expect(decoded.note == "in the lab ☕")
        #expect(decoded.date == Date(timeIntervalSince1970: 1_767_225_600.123))
    }

    @Test func aPresenceWithAnotherKeyIsRefused() throws {
        let presence = try Presence(status: .busy, note: "", identity: .generate(), sequence: 1)
        var bytes = presence.encoded()
        bytes.replaceSubrange(Self.keyRange, with: NodeIdentity.generate().publicKey.bytes)
        expectFailure(.badSignature) { () throws(CollaborationError) in try Presence(decoding: bytes) }
        // Or its own key with another's signature of the same fields.
        let other = try Presence(status: .busy, note: "", identity: .generate(), sequence: 1)
        expectFailure(.badSignature) { () throws(CollaborationError) in try Presence(decoding: Array(presence.encoded().dropLast(64)) + other.signature) }
        // A changed status.
        var changed = presence.encoded()
        changed[5 + 32 + 8] = PresenceStatus.online.code
        expectFailure(.badSignature) { () throws(CollaborationError) in try Presence(decoding: changed) }
    }

    @Test func everyTruncationOfAPresenceIsRefused() throws {
        let bytes = try Presence(status: .away, note: "back at 3", identity: .generate(), sequence: 42).encoded()
        for prefix in truncations(of: bytes) {
            expectFailure(.malformed) { () throws(CollaborationError) in try Presence(decoding: prefix) }
        }
        expectFailure(.malformed) { () throws(CollaborationError) in try Presence(decoding: bytes + [0]) }
    }

    @Test func aLongNoteIsRefused() throws {
        expectFailure(.invalidValue) { () throws(CollaborationError) in
            try Presence(status: .online, note: String(repeating: "n", count: 256), identity: .generate(), sequence: 1)
        }
        // 255 characters whose bytes the decoder would not take are refused too.
        expectFailure(.invalidValue) { () throws(CollaborationError) in
            try Presence(status: .online, note: String(repeating: "🏳️‍🌈", count: 255), identity: .generate(), sequence: 1)
        }
        let longest = try Presence(status: .online, note: String(repeating: "n", count: 255), identity: .generate(), sequence: 1)
        #expect(try Presence(decoding: longest.encoded()) == longest)
    }

    @Test func anAnnouncementSurvivesEncoding() throws {
        let identity = NodeIdentity.generate()
        let details = try PersonDetails(displayName: "Grace Hopper", nickname: "amazing grace")
        for leaving in [false, true] {
            let announcement = NearMeAnnouncement(details: details, status: .onThePhone, port: 7740, leaving: leaving, identity: identity, sequence: 99)
            let decoded = try NearMeAnnouncement(decoding: announcement.encoded())
            #expect(decoded == announcement)
            #expect(decoded.key == identity.publicKey)
            #expect(decoded.displayName == "Grace Hopper")
            #expect(decoded.nickname == "amazing grace")
            #expect(decoded.port == 7740)
            #expect(decoded.status == .onThePhone)
            #expect(decoded.leaving == leaving)
        }
    }

    @Test func anAnnouncementWithAnotherKeyIsRefused() throws {
        let details = try PersonDetails(displayName: "Grace")
        let announcement = NearMeAnnouncement(details: details, status: .online, port: 7740, identity: .generate(), sequence: 1)
        var bytes = announcement.encoded()
        bytes.replaceSubrange(Self.keyRange, with: NodeIdentity.generate().publicKey.bytes)
        expectFailure(.badSignature) { () throws(CollaborationError) in try NearMeAnnouncement(decoding: bytes) }
        let other = NearMeAnnouncement(details: details, status: .online, port: 7740, identity: .generate(), sequence: 1)
        expectFailure(.badSignature) { () throws(CollaborationError) in try NearMeAnnouncement(decoding: Array(announcement.encoded().dropLast(64)) + other.signature) }
        // Another port, as someone redirecting connections would send.
        var redirected = announcement.encoded()
        redirected[5 + 32 + 8 + 1] ^= 1
        expectFailure(.badSignature) { () throws(CollaborationError) in try NearMeAnnouncement(decoding: redirected) }
    }

    @Test func everyTruncationOfAnAnnouncementIsRefused() throws {
        let details = try PersonDetails(displayName: "Grace", nickname: "g")
        let bytes = NearMeAnnouncement(details: details, status: .idle, port: 1, identity: .generate(), sequence: 7).encoded()
        for prefix in truncations(of: bytes) {
            expectFailure(.malformed) { () throws(CollaborationError) in try NearMeAnnouncement(decoding: prefix) }
        }
        expectFailure(.malformed) { () throws(CollaborationError) in try NearMeAnnouncement(decoding: bytes + [0]) }
    }

    @Test func unknownStatusesAndFlagsAreRefused() throws {
        let identity = NodeIdentity.generate()
        var presence = try Presence(status: .online, note: "", identity: identity, sequence: 1).encoded()
        presence[5 + 32 + 8] = 8
        expectFailure(.malformed) { () throws(CollaborationError) in try Presence(decoding: presence) }
        let details = try PersonDetails(displayName: "Grace")
        var announcement = NearMeAnnouncement(details: details, status: .online, port: 1, identity: identity, sequence: 1).encoded()
        announcement[5 + 32 + 8 + 2 + 1] = 2  // flags
        expectFailure(.malformed) { () throws(CollaborationError) in try NearMeAnnouncement(decoding: announcement) }
    }

    @Test func anAnnouncementTenMinutesOldIsNotFresh() throws {
        let now = Moment.duringValidity
        let milliseconds = UInt64(now.timeIntervalSince1970 * 1000)
        let details = try PersonDetails(displayName: "Grace")
        func announcement(_ sequence: UInt64) -> NearMeAnnouncement {
            NearMeAnnouncement(details: details, status: .online, port: 1, identity: .generate(), sequence: sequence)
        }
        #expect(announcement(milliseconds).isFresh(now: now))
        #expect(announcement(milliseconds - 4 * 60_000).isFresh(now: now))
        #expect(!announcement(milliseconds - 10 * 60_000).isFresh(now: now))
        #expect(!announcement(milliseconds + 10 * 60_000).isFresh(now: now))
        #expect(!announcement(0).isFresh(now: now))
    }

    @Test func theWindowRefusesReplaysAndAcceptsNewer() throws {
        var window = SequenceWindow()
        let key = NodeIdentity.generate().publicKey
        let other = NodeIdentity.generate().publicKey
        #expect(window.last(from: key) == nil)
        try window.accept(100, from: key)
        expectFailure(.replayed) { () throws(CollaborationError) in try window.accept(100, from: key) }
        expectFailure(.replayed) { () throws(CollaborationError) in try window.accept(99, from: key) }
        #expect(window.last(from: key) == 100)
        try window.accept(101, from: key)
        #expect(window.last(from: key) == 101)
        // Each key has its own window.
        try window.accept(5, from: other)
        #expect(window.last(from: other) == 5)
        #expect(window.last(from: key) == 101)
    }

    @Test func theWindowKeepsAtMostItsCapacity() throws {
        var window = SequenceWindow(capacity: 2)
        let keys = (0..<3).map { _ in NodeIdentity.generate().publicKey }
        try window.accept(10, from: keys[0])
        try window.accept(30, from: keys[1])
        try window.accept(20, from: keys[2])
        // The key with the oldest sequence made room.
        #expect(window.last(from: keys[0]) == nil)
        #expect(window.last(from: keys[1]) == 30)
        #expect(window.last(from: keys[2]) == 20)
    }

    @Test func theClockOnlyGrows() {
        var clock = SequenceClock()
        let first = clock.next(now: Moment.duringValidity)
        #expect(first == UInt64(Moment.duringValidity.timeIntervalSince1970 * 1000))
        #expect(clock.next(now: Moment.duringValidity) == first + 1)
        #expect(clock.next(now: Moment.created) == first + 2)  // the wall clock stepped back
        #expect(clock.next(now: Moment.duringValidity.addingTimeInterval(1)) == first + 1000)
    }
}
