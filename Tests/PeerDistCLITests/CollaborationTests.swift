import Foundation
import PeerDistTestHosts
import Testing

/// Peer Collaboration between real nodes on one bridge, link-local addresses only: Alice and
/// Bob are each other's contacts; Carol has their cards but is nobody's contact.
@Suite(.serialized, .needsNetworkHosts)
struct CollaborationTests {
    @Test func presenceReachesWatchersAndNobodyElse() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let (alice, bob, carol) = try Self.threePeople(hosts: hosts, scratch: scratch)
        let bobsEvents = try bob.events()
        let alicePrint = try alice.fingerprint

        // Bob watches Alice: her change reaches his events and his presence list.
        try Self.eventually("Bob never saw Alice online") { try Self.status(of: alicePrint, seenBy: bob) == "online" }
        try alice.expectSuccess(["presence", "set", "away", "--note", "lunch"])
        Self.eventually("Alice's change never reached Bob's events") {
            bobsEvents.contains("presence") { $0["fingerprint"] as? String == alicePrint && $0["status"] as? String == "away" && $0["note"] as? String == "lunch" }
        }
        #expect(try Self.status(of: alicePrint, seenBy: bob) == "away")

        // Carol has Alice's card and watches her, but Alice never added Carol: she learns nothing.
        Thread.sleep(forTimeInterval: 1)
        #expect(try Self.status(of: alicePrint, seenBy: carol) == "offline")
        let carolsView = try carol.json(["presence"]) as? [[String: Any]] ?? []
        #expect(carolsView.first { $0["fingerprint"] as? String == alicePrint }?["note"] as? String == "")

        // An object Alice publishes reaches Bob's events; he lists and fetches it; Carol cannot.
        let card = try scratch.file("card.txt", bytes: Array("Alice's status card\n".utf8))
        try alice.expectSuccess(["objects", "set", "status-card", card])
        Self.eventually("Alice's object never reached Bob's events") {
            bobsEvents.contains("object") { $0["object"] as? String == "status-card" && $0["change"] as? String == "added" }
        }
        let listed = try bob.json(["objects", "ls", "Alice"]) as? [[String: Any]] ?? []
        #expect(listed.map { $0["name"] as? String } == ["status-card"])
        try bob.expectSuccess(["objects", "get", "alice", "status-card", "-o", scratch.child("got")])
        #expect(FileComparison.identical(card, scratch.child("got")))
        let carolsObjects = try carol.run(["objects", "get", "Alice", "status-card"])
        #expect(carolsObjects.status != 0 && carolsObjects.output.isEmpty, "\(carolsObjects.standardError)")

        // Blocked from watching, Bob sees her offline; a stopped node says offline too.
        try alice.expectSuccess(["contacts", "set", "Bob", "--watch-me", "block"])
        try Self.eventually("a blocked watcher still saw Alice") { try Self.status(of: alicePrint, seenBy: bob) == "offline" }
        try alice.expectSuccess(["contacts", "set", "bob", "--watch-me", "allow"])
        try Self.eventually("an allowed watcher did not see Alice again") { try Self.status(of: alicePrint, seenBy: bob) == "away" }
        alice.stop()
        Self.eventually("Alice's stop never reached Bob") {
            bobsEvents.contains("presence") { $0["fingerprint"] as? String == alicePrint && $0["status"] as? String == "offline" }
        }
    }

    /// A node cut off without a word (its link down, no FIN) is shown offline after three missed
    /// heartbeats: one second each here, twenty by default.
    @Test func aContactWhoVanishesGoesOfflineAfterTheTimeout() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let (alice, bob, _) = try Self.threePeople(hosts: hosts, scratch: scratch, serving: ["--presence-heartbeat", "1"])
        let alicePrint = try alice.fingerprint
        try Self.eventually("Bob never saw Alice online") { try Self.status(of: alicePrint, seenBy: bob) == "online" }
        // Still online after several heartbeats: quiet is not absence.
        Thread.sleep(forTimeInterval: 4)
        #expect(try Self.status(of: alicePrint, seenBy: bob) == "online")
        // A cable pulled: the link goes, without a word from Alice's node.
        _ = try NetworkHosts.ip("-n", hosts.hosts[0].namespace, "link", "set", hosts.hosts[0].interface, "down")
        try Self.eventually("Bob still saw Alice online with her link down", timeout: 40) { try Self.status(of: alicePrint, seenBy: bob) == "offline" }
        // Plugged back in, with the static address the kernel dropped when the link went down.
        _ = try NetworkHosts.ip("-n", hosts.hosts[0].namespace, "link", "set", hosts.hosts[0].interface, "up")
        _ = try NetworkHosts.ip("-n", hosts.hosts[0].namespace, "-6", "addr", "add", "\(hosts.hosts[0].address)/64", "dev", hosts.hosts[0].interface, "nodad")
        try Self.eventually("Bob never saw Alice again once her link was back", timeout: 30) { try Self.status(of: alicePrint, seenBy: bob) == "online" }
    }

    @Test func privateContentAndMirrorsReachOnlyTheirAudience() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let (alice, bob, carol) = try Self.threePeople(hosts: hosts, scratch: scratch)
        let file = try scratch.file("secret.bin", bytes: (0..<(3 * 1024 * 1024 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        let published = try alice.json(["publish", file, "--to", "Bob"]) as? [String: Any]
        let id = try #require(published?["content_id"] as? String)

        // Carol gets exactly what she gets for content that does not exist.
        let random = String(repeating: "5", count: 64)
        let refused = try carol.run(["fetch", id, "-o", scratch.child("carol-1")])
        let unknown = try carol.run(["fetch", random, "-o", scratch.child("carol-2")])
        #expect(refused.status == 1 && unknown.status == 1)
        #expect(Self.withoutIDs(refused.standardError) == Self.withoutIDs(unknown.standardError), "\(refused.standardError) vs \(unknown.standardError)")
        #expect(!FileManager.default.fileExists(atPath: scratch.child("carol-1")))

        // Alice invites Bob; he accepts and gets identical bytes.
        try alice.expectSuccess(["invite", "Bob", "--content", id, "--message", "the report"])
        let number = try Self.pendingInvitation(of: bob)
        try bob.expectSuccess(["invitations", "accept", "\(number)", "-o", scratch.child("bob.bin")])
        #expect(FileComparison.identical(file, scratch.child("bob.bin")))

        // Bob keeps it to the same audience: Carol still cannot get it, from him either.
        let afterBob = try carol.run(["fetch", id, "-o", scratch.child("carol-3")])
        #expect(afterBob.status == 1 && Self.withoutIDs(afterBob.standardError) == Self.withoutIDs(unknown.standardError), "\(afterBob.standardError)")

        // A private mirror: Bob follows it by invitation; Carol, with its name, never gets a version.
        let tree = scratch.child("tree")
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: tree + "/a.txt"))
        try Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: tree + "/sub/b.bin"))
        let mirror = try alice.json(["mirror", "publish", tree, "--to", "bob"]) as? [String: Any]
        let name = try #require(mirror?["name"] as? String)
        try alice.expectSuccess(["invite", "bob", "--mirror", name])
        try bob.expectSuccess(["invitations", "accept", "\(try Self.pendingInvitation(of: bob))", "-o", scratch.child("bob-tree")])
        Self.eventually("Bob's tree never matched Alice's") { TreeComparison.firstDifference(tree, scratch.child("bob-tree")) == nil }
        try carol.expectSuccess(["mirror", "follow", name, scratch.child("carol-tree")])
        Thread.sleep(forTimeInterval: 5)
        let carolsMirrors = (try carol.json(["mirror", "status"]) as? [String: Any])?["mirrors"] as? [[String: Any]] ?? []
        #expect(carolsMirrors.first?["version"] as? Int == 0, "\(carolsMirrors)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: scratch.child("carol-tree"))) ?? []).isEmpty)
    }

    @Test func invitationsAreAnsweredDeclinedExpiredOrRefused() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let (alice, bob, carol) = try Self.threePeople(hosts: hosts, scratch: scratch)
        let alicesEvents = try alice.events()
        let content = String(repeating: "a", count: 64)

        // Declined: Alice waits and hears it.
        let waiting = Process()
        waiting.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        waiting.arguments = ["ip", "netns", "exec", alice.namespace, Peerdist.binary.path, "invite", "bob", "--content", content, "--wait", "--data-dir", alice.dataDirectory]
        try waiting.run(output: scratch.child("wait.out"), error: scratch.child("wait.err"))
        try bob.expectSuccess(["invitations", "decline", "\(try Self.pendingInvitation(of: bob))"])
        waiting.waitUntilExit()
        #expect(try String(contentsOfFile: scratch.child("wait.out"), encoding: .utf8).contains("declined"))
        // Alice's event stream is another process, which may write the answer a moment later.
        Self.eventually("Alice's events never told of the declined invitation") {
            alicesEvents.contains("invitation-answer") { $0["outcome"] as? String == "declined" }
        }

        // Unanswered, it expires, and Alice sees "expired".
        try alice.expectSuccess(["invitations", "set", "--expiry", "2"])
        let expired = try alice.expectSuccess(["invite", "bob", "--content", content, "--wait"])
        #expect(expired.standardOutput.contains("expired"))

        // An application invitation runs the registered command with the data and the sender.
        let received = scratch.child("received")
        try bob.expectSuccess(["apps", "register", "notes", "--command", "cat > '\(received)'; printf '%s %s' \"$PEERDIST_INVITER_NAME\" \"$PEERDIST_INVITER_FINGERPRINT\" >> '\(received)'"])
        try alice.expectSuccess(["invitations", "set", "--expiry", "300"])
        let data = try scratch.file("data", bytes: Array("meet at noon\n".utf8))
        try alice.expectSuccess(["invite", "bob", "--app", "notes", "--data", data, "--message", "notes for you"])
        try bob.expectSuccess(["invitations", "accept", "\(try Self.pendingInvitation(of: bob))"])
        #expect(try String(contentsOfFile: received, encoding: .utf8) == "meet at noon\nAlice \(try alice.fingerprint)")
        Self.eventually("Alice never heard the application invitation was accepted") {
            alicesEvents.contains("invitation-answer") { $0["outcome"] as? String == "accepted" }
        }

        // Carol is not Bob's contact: her invitation is refused.
        let refused = try carol.run(["invite", "bob", "--content", content])
        #expect(refused.status == 1 && refused.standardError.contains("takes no invitations from you"), "\(refused.standardError)")
        #expect((try bob.json(["invitations"]) as? [Any])?.isEmpty == true)
    }

    @Test func peopleNearMeAnnouncesOnlyWhenOnAndMarksSharedNames() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let alice = try Person("Alice", namespace: hosts.hosts[0].namespace, scratch: scratch)
        let bob = try Person("Bob", namespace: hosts.hosts[1].namespace, scratch: scratch)
        let otherAlice = try Person("Alice", namespace: hosts.hosts[2].namespace, scratch: scratch)
        for person in [alice, bob, otherAlice] { try person.start() }

        // Off by default: nobody is near.
        let bobsEvents = try bob.events()
        Thread.sleep(forTimeInterval: 1)
        #expect((try bob.json(["near"]) as? [Any])?.isEmpty == true)

        try alice.expectSuccess(["near-me", "on"])
        try otherAlice.expectSuccess(["near-me", "on"])
        try Self.eventually("Bob never saw both Alices") { (try bob.json(["near"]) as? [Any])?.count == 2 }
        let near = try bob.json(["near"]) as? [[String: Any]] ?? []
        #expect(near.allSatisfy { $0["display_name"] as? String == "Alice" && $0["shares_name"] as? Bool == true })
        #expect(Set(near.compactMap { $0["fingerprint"] as? String }) == [try alice.fingerprint, try otherAlice.fingerprint])
        #expect(try bob.expectSuccess(["near"]).standardOutput.contains("same name as another person near you"))

        // Someone near me is added by fingerprint: their node hands over the card for that key.
        let aliceFingerprint = try alice.fingerprint
        try bob.expectSuccess(["contacts", "add", aliceFingerprint.uppercased()])
        let contacts = try bob.json(["contacts"]) as? [[String: Any]] ?? []
        #expect(contacts.map { $0["fingerprint"] as? String } == [aliceFingerprint])
        let nobody = try bob.run(["contacts", "add", "aaaa-bbbb-cccc-dddd"])
        #expect(nobody.status != 0 && nobody.standardError.contains("no one with fingerprint aaaa-bbbb-cccc-dddd is near"), "\(nobody.standardError)")

        // Kept across a restart; turned off, the person leaves at once.
        alice.stop()
        try alice.start()
        #expect(((try alice.json(["me"]) as? [String: Any])?["near_me"] as? Bool) == true)
        try otherAlice.expectSuccess(["near-me", "off"])
        try Self.eventually("the other Alice never left") {
            let people = try bob.json(["near"]) as? [[String: Any]] ?? []
            return people.count == 1 && people.first?["shares_name"] as? Bool == false
        }
        let otherFingerprint = try otherAlice.fingerprint
        Self.eventually("Bob's events never told of the other Alice's arrival") {
            bobsEvents.contains("near-me") { $0["fingerprint"] as? String == otherFingerprint && $0["change"] as? String == "arrived" }
        }
        #expect(bobsEvents.contains("near-me") { $0["fingerprint"] as? String == otherFingerprint && $0["change"] as? String == "left" })
    }

    @Test func cardsObjectsAndSettingsRefuseMistakesAndSurviveAKill() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let alice = try Person("Alice", namespace: hosts.hosts[0].namespace, scratch: scratch)
        let bob = try Person("Bob", namespace: hosts.hosts[1].namespace, scratch: scratch)
        let card = try alice.card

        // A tampered card and a card with another key's signature are refused, saying which.
        var characters = Array(card)
        let middle = characters.count / 2
        characters[middle] = characters[middle] == "B" ? "C" : "B"
        let tampered = try bob.run(["contacts", "add", String(characters)])
        #expect(tampered.status != 0 && tampered.standardError.contains("signature does not verify"), "\(tampered.standardError)")
        let wrongFingerprint = try bob.run(["contacts", "add", card, "--fingerprint", "aaaa-bbbb-cccc-dddd"])
        #expect(wrongFingerprint.status != 0 && wrongFingerprint.standardError.contains("not aaaa-bbbb-cccc-dddd"), "\(wrongFingerprint.standardError)")
        let garbage = try bob.run(["contacts", "add", "peerdist-contact:AAAA"])
        #expect(garbage.status != 0 && garbage.standardError.contains("contact card"), "\(garbage.standardError)")

        // Objects: empty, oversized and the 129th are refused.
        let empty = try scratch.file("empty", bytes: [])
        let large = try scratch.file("large", bytes: [UInt8](repeating: 7, count: 16 * 1024))
        let small = try scratch.file("small", bytes: Array("card".utf8))
        #expect(try alice.run(["objects", "set", "e", empty]).standardError.contains("is empty"))
        #expect(try alice.run(["objects", "set", "l", large]).standardError.contains("less than 16 KiB"))
        for index in 1...128 { try alice.expectSuccess(["objects", "set", "o\(index)", small]) }
        let tooMany = try alice.run(["objects", "set", "o129", small])
        #expect(tooMany.status != 0 && tooMany.standardError.contains("128 objects"), "\(tooMany.standardError)")

        // Contacts, settings and objects survive kill -9 of a node that was changing them.
        try alice.start()
        try alice.expectSuccess(["contacts", "add", try bob.card])
        try alice.expectSuccess(["contacts", "set", "Bob", "--invitations", "off"])
        try alice.expectSuccess(["presence", "set", "busy", "--note", "writing"])
        try alice.expectSuccess(["near-me", "on"])
        try alice.expectSuccess(["objects", "rm", "o1"])
        alice.kill()
        try alice.start()
        let contacts = try alice.json(["contacts"]) as? [[String: Any]] ?? []
        #expect(contacts.count == 1 && contacts.first?["may_invite"] as? Bool == false)
        let me = try alice.json(["me"]) as? [String: Any]
        #expect(me?["status"] as? String == "busy" && me?["note"] as? String == "writing" && me?["near_me"] as? Bool == true)
        #expect((try alice.json(["objects"]) as? [Any])?.count == 127)
    }

    // MARK: Helpers

    /// The status `viewer` lists for `fingerprint` in `peerdist presence`.
    static func status(of fingerprint: String, seenBy viewer: Person) throws -> String? {
        let listings = try viewer.json(["presence"]) as? [[String: Any]] ?? []
        return listings.first { $0["fingerprint"] as? String == fingerprint && $0["me"] as? Bool == false }?["status"] as? String
    }

    /// The number of the newest invitation waiting for `person`.
    static func pendingInvitation(of person: Person) throws -> Int {
        var number: Int?
        try eventually("no invitation arrived") {
            number = (try person.json(["invitations"]) as? [[String: Any]])?.last?["number"] as? Int
            return number != nil
        }
        return try #require(number)
    }

    /// An error message with content IDs (hex and base32 forms) blanked, to compare two.
    static func withoutIDs(_ text: String) -> String {
        text.replacing(/peerdist:[a-z2-7]+/, with: "peerdist:ID").replacing(/[0-9a-f]{64}/, with: "ID")
    }
}
