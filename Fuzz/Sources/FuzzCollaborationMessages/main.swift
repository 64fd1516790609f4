import Foundation
import FuzzSupport
import PeerDistCollaboration
import PeerDistWire

/// What a contact's node says inside a secure channel, and what anyone on the LAN says with
/// People Near Me on.
///
/// The first byte is a `CollaborationMessage` kind and the rest its payload; kinds 1 to 13 are
/// messages (any other must be refused), and two more feed the signed records on their own:
/// - 0xFE: a `Presence`;
/// - 0xFF: a `NearMeAnnouncement`.
/// Whatever decodes must encode to the bytes it came from, which decode to an equal value.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    let kind = UInt8(Fuzzing.take(1, from: &bytes))
    switch kind {
    case 0xFE:
        guard let presence = try? Presence(decoding: bytes) else { return }
        let encoded = presence.encoded()
        Fuzzing.check(encoded.elementsEqual(bytes), "a presence from \(presence.key) re-encodes to other bytes")
        Fuzzing.check((try? Presence(decoding: encoded)) == presence, "decode → encode → decode changed a presence from \(presence.key)")
        _ = presence.date
    case 0xFF:
        guard let announcement = try? NearMeAnnouncement(decoding: bytes) else { return }
        let encoded = announcement.encoded()
        Fuzzing.check(encoded.elementsEqual(bytes), "an announcement from \(announcement.key) re-encodes to other bytes")
        Fuzzing.check((try? NearMeAnnouncement(decoding: encoded)) == announcement, "decode → encode → decode changed an announcement from \(announcement.key)")
        _ = announcement.isFresh()
    default:
        let message: CollaborationMessage
        do {
            message = try CollaborationMessage(kind: kind, payload: bytes)
        } catch {
            return
        }
        Fuzzing.check((1...13).contains(kind), "unknown kind \(kind) decoded as \(message)")
        Fuzzing.check(message.kind == kind, "kind \(kind) decoded as \(message), of kind \(message.kind)")
        let payload = message.payload()
        Fuzzing.check(payload.elementsEqual(bytes), "\(message) re-encodes to other bytes than it was decoded from")
        do {
            let again = try CollaborationMessage(kind: message.kind, payload: payload)
            Fuzzing.check(again == message, "decode → payload → decode changed \(message) into \(again)")
        } catch {
            Fuzzing.check(false, "the payload of \(message) was refused: \(error)")
        }
    }
}

func makeSeeds() -> [String: [UInt8]] {
    // Literals that pass validation; the card is valid for twenty years from 2026.
    let identity = NodeIdentity.generate()
    let details = try! PersonDetails(displayName: "Ada Lovelace", nickname: "ada")
    let card = ContactCard(details: details, identity: identity, endpoints: ["[2001:db8::1]:7740"], created: Date(timeIntervalSince1970: 1_767_225_600), validity: 20 * 365 * 24 * 3600)
    let presence = try! Presence(status: .beRightBack, note: "coffee ☕", identity: identity, sequence: 1_767_225_600_000)
    let avatar = try! PublishedObject(name: "avatar.png", data: Array(repeating: 0x89, count: 64), scope: .contacts)
    let offers = try! PublishedObject(name: "offers", data: Array("one two".utf8), scope: .nearMe)
    let id = Array(0..<16) as [UInt8]
    let messages: [String: CollaborationMessage] = [
        "01-get-card": .getCard,
        "02-card": .card(card),
        "03-watch": .watch,
        "04-update": .update(presence: presence, objects: [avatar.summary, offers.summary]),
        "04-update-empty": .update(presence: nil, objects: []),
        "05-heartbeat": .heartbeat,
        "06-list-objects": .listObjects,
        "07-object-list": .objectList([avatar.summary, offers.summary]),
        "08-get-object": .getObject(name: "avatar.png"),
        "09-object": .object(avatar),
        "10-invite-content": .invite(try! Invitation(id: id, subject: .content("0123abcd"), message: "the slides ✓", lifetime: 300)),
        "10-invite-mirror": .invite(try! Invitation(id: id, subject: .mirror("photos"), message: "", lifetime: 60)),
        "10-invite-application": .invite(try! Invitation(id: id, subject: .application(name: "whiteboard", data: [1, 2, 3]), message: "draw")),
        "11-invitation-answer": .invitationAnswer(id: id, outcome: .declined),
        "12-audience": .audience([identity.publicKey, NodeIdentity.generate().publicKey]),
        "13-refused": .refused(reason: "not a contact"),
    ]
    var seeds = messages.mapValues { [$0.kind] + $0.payload() }
    seeds["presence"] = [0xFE] + presence.encoded()
    seeds["near-me"] = [0xFF] + NearMeAnnouncement(details: details, status: .online, port: 7740, identity: identity, sequence: 1_767_225_600_000).encoded()
    seeds["near-me-leaving"] = [0xFF] + NearMeAnnouncement(details: details, status: .offline, port: 7740, leaving: true, identity: identity, sequence: 1_767_225_600_001).encoded()
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
