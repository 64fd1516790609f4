import Foundation
import PeerDistWire
import Testing

@testable import PeerDistCollaboration

/// Contact cards: the three forms round trip, and a card is refused when altered, signed by
/// another key, expired, not the key the user expected, cut short or over its limits.
struct ContactCardTests {
    /// Where the display name's bytes start: "PDCARD", version, key, created, expires, length.
    static let nameOffset = 6 + 1 + 32 + 8 + 8 + 2
    static let keyRange = 7..<39

    @Test func aCardSurvivesBytesTextAndFile() throws {
        let identity = NodeIdentity.generate()
        let card = try ContactCard.sample("Ada Lovelace ✓", identity: identity)
        #expect(card.key == identity.publicKey)
        #expect(card.fingerprint == identity.fingerprint)
        #expect(card.created == Moment.created)

        let bytes = card.encoded()
        let decoded = try ContactCard(decoding: bytes, now: Moment.duringValidity)
        #expect(decoded == card)
        #expect(decoded.encoded() == bytes)
        #expect(decoded.displayName == "Ada Lovelace ✓")
        #expect(decoded.nickname == "ada")
        #expect(decoded.endpoints == ["[2001:db8::1]:7740", "[192.0.2.7]:7740"])

        #expect(card.uri.hasPrefix("peerdist-contact:"))
        #expect(!card.uri.contains("=") && !card.uri.contains("+") && !card.uri.contains("/"))
        #expect(try ContactCard(parsing: card.uri, now: Moment.duringValidity) == card)
        // As pasted from a chat: surrounding white space, the scheme in capitals.
        let pasted = "  PEERDIST-CONTACT:" + card.uri.dropFirst("peerdist-contact:".count) + "\n"
        #expect(try ContactCard(parsing: pasted, now: Moment.duringValidity) == card)

        #expect(try ContactCard(file: bytes, now: Moment.duringValidity) == card)
        #expect(try ContactCard(file: Array((card.uri + "\n").utf8), now: Moment.duringValidity) == card)
    }

    @Test func aCardWithNoEndpointsAndNoNicknameSurvives() throws {
        let card = try ContactCard.sample("B", nickname: "", endpoints: [])
        #expect(try ContactCard(decoding: card.encoded(), now: Moment.duringValidity) == card)
    }

    @Test func aByteFlippedInTheNameBreaksTheSignature() throws {
        let card = try ContactCard.sample("Ada")
        var bytes = card.encoded()
        #expect(bytes[Self.nameOffset] == UInt8(ascii: "A"))
        bytes[Self.nameOffset] ^= 0x02  // "C": still a valid name, but not the one signed.
        let error = expectFailure(.badSignature) { () throws(CollaborationError) in try ContactCard(decoding: bytes, now: Moment.duringValidity) }
        #expect(error?.message.contains("signature") == true)
    }

    @Test func aCardCarryingAnotherKeyIsRefused() throws {
        let card = try ContactCard.sample()
        var bytes = card.encoded()
        bytes.replaceSubrange(Self.keyRange, with: NodeIdentity.generate().publicKey.bytes)
        expectFailure(.badSignature) { () throws(CollaborationError) in try ContactCard(decoding: bytes, now: Moment.duringValidity) }
        // The same through the text form.
        let uri = ContactCard.uriScheme + Base64URL.encode(bytes)
        expectFailure(.badSignature) { () throws(CollaborationError) in try ContactCard(parsing: uri, now: Moment.duringValidity) }
    }

    @Test func aCardSignedByAnotherKeyIsRefused() throws {
        // Ada's fields and key, but the signature of someone else's card with the same fields.
        let ada = try ContactCard.sample(identity: .generate())
        let mallory = try ContactCard.sample(identity: .generate())
        let bytes = Array(ada.encoded().dropLast(64)) + mallory.signature
        expectFailure(.badSignature) { () throws(CollaborationError) in try ContactCard(decoding: bytes, now: Moment.duringValidity) }
    }

    @Test func anExpiredCardIsRefused() throws {
        let card = try ContactCard.sample(validity: 30 * 24 * 3600)
        #expect(card.expires == Moment.created.addingTimeInterval(30 * 24 * 3600))
        #expect(try ContactCard(decoding: card.encoded(), now: card.expires.addingTimeInterval(-1)) == card)
        let error = expectFailure(.expired) { () throws(CollaborationError) in try ContactCard(decoding: card.encoded(), now: card.expires) }
        #expect(error?.message.contains("Ada Lovelace") == true)
        expectFailure(.expired) { () throws(CollaborationError) in try ContactCard(parsing: card.uri, now: card.expires.addingTimeInterval(86400)) }
    }

    @Test func theExpectedFingerprintMustMatch() throws {
        let identity = NodeIdentity.generate()
        let card = try ContactCard.sample(identity: identity)
        let other = NodeIdentity.generate().fingerprint
        let error = expectFailure(.wrongKey) { () throws(CollaborationError) in
            try ContactCard(parsing: card.uri, now: Moment.duringValidity, expectedFingerprint: other)
        }
        #expect(error?.message.contains(other) == true)
        #expect(error?.message.contains(identity.fingerprint) == true)
        // The right one, as people type it.
        let typed = identity.fingerprint.uppercased().replacingOccurrences(of: "-", with: "")
        #expect(try ContactCard(decoding: card.encoded(), now: Moment.duringValidity, expectedFingerprint: typed) == card)
    }

    @Test func everyTruncationIsAnError() throws {
        let card = try ContactCard.sample()
        for prefix in truncations(of: card.encoded()) {
            expectFailure(.malformed) { () throws(CollaborationError) in try ContactCard(decoding: prefix, now: Moment.duringValidity) }
        }
        expectFailure(.malformed) { () throws(CollaborationError) in try ContactCard(decoding: card.encoded() + [0], now: Moment.duringValidity) }
    }

    @Test func textThatIsNotACardIsRefused() {
        for text in ["", "peerdist-contact:", "peerdist-contact:!!!!", "https://example.com", "peerdist-contact:UERDQVJE"] {
            expectFailure(.malformed) { () throws(CollaborationError) in try ContactCard(parsing: text, now: Moment.duringValidity) }
        }
        expectFailure(.malformed) { () throws(CollaborationError) in try ContactCard(file: [0xFF, 0xFE, 0x00], now: Moment.duringValidity) }
    }

    @Test func namesOver255CharactersAreRefused() throws {
        let longest = String(repeating: "é", count: 255)
        let details = try PersonDetails(displayName: longest, nickname: longest)
        let card = ContactCard(details: details, identity: .generate(), created: Moment.created)
        #expect(try ContactCard(decoding: card.encoded(), now: Moment.duringValidity).displayName == longest)

        for field in ["display name", "nickname", "e-mail address"] {
            let long = String(repeating: "x", count: 256)
            let error = expectFailure(.invalidValue) { () throws(CollaborationError) in
                switch field {
                case "display name": try PersonDetails(displayName: long)
                case "nickname": try PersonDetails(displayName: "x", nickname: long)
                default: try PersonDetails(displayName: "x", email: long)
                }
            }
            #expect(error?.message.contains(field) == true)
        }
        // A card someone made with a longer name anyway is refused by its readers.
        var stretched = details
        stretched.displayName = String(repeating: "x", count: 256)
        let forged = ContactCard(details: stretched, identity: .generate(), created: Moment.created)
        let error = expectFailure(.malformed) { () throws(CollaborationError) in try ContactCard(decoding: forged.encoded(), now: Moment.duringValidity) }
        #expect(error?.message.contains("display name") == true)
    }

    /// 255 characters of up to 25 bytes each would make a card its own decoder refuses (the
    /// text fields take four bytes a character at most), so such a name is refused up front.
    @Test func aNameOfFewCharactersButManyBytesIsRefused() throws {
        let family = String(repeating: "👨‍👩‍👧‍👦", count: 255)
        #expect(family.count == 255)
        expectFailure(.invalidValue) { () throws(CollaborationError) in try PersonDetails(displayName: family) }
        // A few such characters are fine, and survive.
        let card = try ContactCard.sample("👨‍👩‍👧‍👦 Family")
        #expect(try ContactCard(decoding: card.encoded(), now: Moment.duringValidity) == card)
    }

    @Test func emptyNamesAndControlCharactersAreRefused() {
        expectFailure(.invalidValue) { () throws(CollaborationError) in try PersonDetails(displayName: "  ") }
        expectFailure(.invalidValue) { () throws(CollaborationError) in try PersonDetails(displayName: "Ada\u{1B}[2K") }
        expectFailure(.invalidValue) { () throws(CollaborationError) in try PersonDetails(displayName: "Ada", nickname: "a\nb") }
    }

    @Test func endpointsOverTheLimitsAreLeftOut() throws {
        let long = String(repeating: "9", count: 65)
        let heavy = String(repeating: "e\u{301}\u{301}\u{301}", count: 64)  // 64 characters, 448 bytes
        let many = (0..<20).map { "[192.0.2.\($0)]:7740" }
        let card = try ContactCard.sample(endpoints: ["[::1]:1", long, heavy] + many)
        #expect(card.endpoints.count == ContactCard.maximumEndpoints)
        #expect(card.endpoints.first == "[::1]:1")
        #expect(!card.endpoints.contains(long) && !card.endpoints.contains(heavy))
        #expect(try ContactCard(decoding: card.encoded(), now: Moment.duringValidity) == card)
    }

    @Test(arguments: ["abcd-efgh-ijkl-mnop", "ABCD-EFGH-IJKL-MNOP", "abcdefghijklmnop", "AbCd EfGh-ijklMNOP", " abcd-efgh-ijkl-mnop "])
    func fingerprintsParseInAnyCaseWithOrWithoutDashes(_ text: String) {
        #expect(Fingerprint.parse(text) == "abcd-efgh-ijkl-mnop")
        #expect(Fingerprint.normalized(text) == "abcd-efgh-ijkl-mnop")
    }

    @Test(arguments: ["", "abcd-efgh-ijkl-mno", "abcd-efgh-ijkl-mnopq", "abcd-efgh-ijkl-mn01", "abcd-efgh-ijkl-mn89", "abcd-efgh-ijkl-mnó", "a\u{20DD}bcd-efgh-ijkl-mnop"])
    func textThatIsNoFingerprintIsNotParsed(_ text: String) {
        #expect(Fingerprint.parse(text) == nil)
    }

    @Test func aKeysFingerprintParsesToItself() {
        let key = NodeIdentity.generate().publicKey
        #expect(Fingerprint.parse(key.fingerprint) == key.fingerprint)
        #expect(Fingerprint.parse(key.fingerprint.uppercased().replacingOccurrences(of: "-", with: "")) == key.fingerprint)
    }
}
