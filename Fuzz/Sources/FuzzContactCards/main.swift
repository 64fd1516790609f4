import Foundation
import FuzzSupport
import PeerDistCollaboration
import PeerDistWire

/// Contact cards, which arrive from anyone: pasted from mail or chat, read from a file, scanned
/// from a QR code or fetched from a node near me.
///
/// The first byte picks what is fed:
/// - 0: the bytes of a card;
/// - 1: the text form (`peerdist-contact:` and base64url), as `contacts add` reads it;
/// - 2: a card file, which holds the bytes or the text;
/// - 3: fields for a card this node makes (times, display name, nickname, endpoints): PeerDist's
///   own encoder must make a card its decoder takes back.
/// A card that decodes must re-encode to the bytes it came from and read back equal from each form.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    switch Fuzzing.take(1, from: &bytes) % 4 {
    case 0:
        guard let card = try? ContactCard(decoding: bytes, now: now) else { return }
        Fuzzing.check(card.encoded().elementsEqual(bytes), "\(card.fingerprint)'s card re-encodes to other bytes than it was decoded from")
        checkForms(card)
    case 1:
        guard let card = try? ContactCard(parsing: String(decoding: bytes, as: UTF8.self), now: now) else { return }
        checkForms(card)
    case 2:
        guard let card = try? ContactCard(file: Array(bytes), now: now) else { return }
        checkForms(card)
    default:
        let created = Date(timeIntervalSince1970: TimeInterval(Fuzzing.take(4, from: &bytes)))
        let validity = TimeInterval(Fuzzing.take(4, from: &bytes))
        func text() -> String {
            let length = min(Fuzzing.take(2, from: &bytes), bytes.count)
            defer { bytes = bytes.dropFirst(length) }
            return String(decoding: bytes.prefix(length), as: UTF8.self)
        }
        guard let details = try? PersonDetails(displayName: text(), nickname: text()) else { return }
        var endpoints: [String] = []
        while !bytes.isEmpty { endpoints.append(text()) }
        let card = ContactCard(details: details, identity: identity, endpoints: endpoints, created: created, validity: validity)
        guard card.expires > now else { return }
        do {
            let decoded = try ContactCard(decoding: card.encoded(), now: now, expectedFingerprint: identity.fingerprint)
            Fuzzing.check(decoded == card, "a card made for \(details) decodes to another: \(decoded)")
        } catch {
            Fuzzing.check(false, "a card made for \(details) with endpoints \(endpoints) was refused: \(error)")
        }
        checkForms(card)
    }
}

/// Before every card the fuzzer makes, so that only a zero expiry is expired.
let now = Date(timeIntervalSince1970: 0)
let identity = NodeIdentity.generate()

/// `card`, encoded in each form, reads back equal.
func checkForms(_ card: ContactCard) {
    let bytes = card.encoded()
    for (form, decode) in [
        ("bytes", { () throws(CollaborationError) in try ContactCard(decoding: bytes, now: now, expectedFingerprint: card.fingerprint) }),
        ("text", { () throws(CollaborationError) in try ContactCard(parsing: card.uri, now: now) }),
        ("file of bytes", { () throws(CollaborationError) in try ContactCard(file: bytes, now: now) }),
        ("file of text", { () throws(CollaborationError) in try ContactCard(file: Array(card.uri.utf8), now: now) }),
    ] as [(String, () throws(CollaborationError) -> ContactCard)] {
        do {
            let again = try decode()
            Fuzzing.check(again == card, "\(card.fingerprint)'s card read back from its \(form) as another card")
        } catch {
            Fuzzing.check(false, "\(card.fingerprint)'s card was refused in its \(form) form: \(error)")
        }
    }
}

func makeSeeds() -> [String: [UInt8]] {
    let created = Date(timeIntervalSince1970: 1_767_225_600)
    func card(_ name: String, _ nickname: String, _ endpoints: [String]) -> ContactCard {
        // A literal name that passes validation.
        ContactCard(details: try! PersonDetails(displayName: name, nickname: nickname), identity: identity, endpoints: endpoints, created: created)
    }
    let ada = card("Ada Lovelace", "ada", ["[2001:db8::1]:7740", "[192.0.2.7]:7740"])
    let grace = card("Grace Hopper ✓", "", [])
    let long = card(String(repeating: "é", count: 255), String(repeating: "n", count: 255), (0..<16).map { "[192.0.2.\($0)]:7740" })
    var seeds: [String: [UInt8]] = [
        "bytes-ada": [0] + ada.encoded(),
        "bytes-grace": [0] + grace.encoded(),
        "bytes-longest": [0] + long.encoded(),
        "text-ada": [1] + Array(ada.uri.utf8),
        "text-grace-pasted": [1] + Array("  PEERDIST-CONTACT:\(grace.uri.dropFirst(ContactCard.uriScheme.count))\r\n".utf8),
        "file-bytes": [2] + ada.encoded(),
        "file-text": [2] + Array((grace.uri + "\n").utf8),
    ]
    // Fields: created(4) validity(4), then display name, nickname and endpoints as length(2) text.
    func fields(_ texts: [String]) -> [UInt8] {
        var bytes: [UInt8] = [3, 0x69, 0x55, 0x8A, 0x00, 0x01, 0xE1, 0x33, 0x80]
        for text in texts {
            let utf8 = Array(text.utf8)
            bytes += [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)] + utf8
        }
        return bytes
    }
    seeds["made-ada"] = fields(["Ada Lovelace", "ada", "[::1]:7740", "[192.0.2.1]:7740"])
    seeds["made-emoji"] = fields(["👩‍💻 Ada", "", "[fe80::1%eth0]:7740"])
    // An endpoint of 64 characters in 448 bytes, which the card leaves out.
    seeds["made-heavy-endpoint"] = fields(["Ada", "", String(repeating: "e\u{301}\u{301}\u{301}", count: 64), "[::1]:7740"])
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
