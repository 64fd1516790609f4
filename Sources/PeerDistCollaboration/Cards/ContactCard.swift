import Foundation
import PeerDistWire

/// A person's contact card: who they say they are, the Ed25519 key their node proves it holds on
/// every connection, and where it may be reached, signed by that key. Handed over out of band
/// (e-mail, chat, a QR code) or fetched from a node seen near me; trusting a card is trusting
/// whoever handed it over, which is why `contacts add` can check it against a fingerprint.
///
/// ```
/// "PDCARD" version(1)=1 key(32) created(u64) expires(u64)      times: Unix seconds
/// display name(text) nickname(text) endpoint count(u8) endpoints(text each)
/// signature(64)                                                 over every byte before it
/// ```
/// `text` is a u16 length and UTF-8. As text a card is `peerdist-contact:` and the bytes in
/// unpadded base64url, which survives mail and chat; as a file it is the bytes.
public struct ContactCard: Hashable, Sendable {
    public static let magic = Array("PDCARD".utf8)
    public static let version: UInt8 = 1
    public static let uriScheme = "peerdist-contact:"
    public static let maximumEndpoints = 16
    public static let maximumEndpointCharacters = 64
    /// A card is valid for a year unless made otherwise: long enough to keep in an address book,
    /// short enough that a lost key's cards stop working.
    public static let defaultValidity: TimeInterval = 365 * 24 * 3600

    public let key: PeerKey
    public let displayName: String
    public let nickname: String
    public let created: Date
    public let expires: Date
    /// `[address]:port` where the person's node listens, when they chose to say.
    public let endpoints: [String]
    public let signature: [UInt8]

    public var fingerprint: String { key.fingerprint }

    /// A card for `details`, signed by `identity`.
    public init(details: PersonDetails, identity: NodeIdentity, endpoints: [String] = [], created: Date = Date(), validity: TimeInterval = defaultValidity) {
        self.key = identity.publicKey
        self.displayName = details.displayName
        self.nickname = details.nickname
        // Whole seconds: what the bytes carry, so a card equals itself decoded.
        self.created = Date(timeIntervalSince1970: created.timeIntervalSince1970.rounded(.down))
        self.expires = Date(timeIntervalSince1970: (created.timeIntervalSince1970 + validity).rounded(.down))
        self.endpoints = Array(endpoints.filter { $0.fitsText(maximumCharacters: Self.maximumEndpointCharacters) }.prefix(Self.maximumEndpoints))
        self.signature = identity.sign(Self.signedPart(key: key, displayName: displayName, nickname: nickname, created: self.created, expires: self.expires, endpoints: self.endpoints))
    }

    private init(key: PeerKey, displayName: String, nickname: String, created: Date, expires: Date, endpoints: [String], signature: [UInt8]) {
        self.key = key
        self.displayName = displayName
        self.nickname = nickname
        self.created = created
        self.expires = expires
        self.endpoints = endpoints
        self.signature = signature
    }

    static func signedPart(key: PeerKey, displayName: String, nickname: String, created: Date, expires: Date, endpoints: [String]) -> [UInt8] {
        var writer = FieldWriter()
        writer.append(contentsOf: magic)
        writer.append(version)
        writer.append(contentsOf: key.bytes)
        writer.append(UInt64(max(0, created.timeIntervalSince1970)))
        writer.append(UInt64(max(0, expires.timeIntervalSince1970)))
        writer.append(text: displayName)
        writer.append(text: nickname)
        writer.append(UInt8(endpoints.count))
        for endpoint in endpoints { writer.append(text: endpoint) }
        return writer.bytes
    }

    public func encoded() -> [UInt8] {
        Self.signedPart(key: key, displayName: displayName, nickname: nickname, created: created, expires: expires, endpoints: endpoints) + signature
    }

    /// The card as text: `peerdist-contact:` and its bytes in unpadded base64url.
    public var uri: String { Self.uriScheme + Base64URL.encode(encoded()) }

    /// Decodes a card and checks it: well formed, signed by the key it carries, not expired
    /// at `now` and, when `fingerprint` is given, carrying the key that fingerprint names. Each
    /// failure says which.
    public init(decoding bytes: some Collection<UInt8>, now: Date = Date(), expectedFingerprint: String? = nil) throws(CollaborationError) {
        var reader = FieldReader<CollaborationError>(bytes, subject: "contact card")
        guard try reader.bytes(Self.magic.count, "magic") == Self.magic else {
            throw reader.failure("does not start with PDCARD: not a contact card", at: 0)
        }
        let version = try reader.integer(UInt8.self, "version")
        guard version == Self.version else { throw reader.failure("version \(version) is not 1", at: 6) }
        let key = try reader.peerKey("key")
        let created = try reader.integer(UInt64.self, "creation time")
        let expires = try reader.integer(UInt64.self, "expiry time")
        guard created <= expires, expires <= UInt64(Int64.max / 2) else { throw reader.failure("expires before it was created") }
        let displayName = try reader.text("display name", maximumCharacters: PersonDetails.maximumCharacters)
        let nickname = try reader.text("nickname", maximumCharacters: PersonDetails.maximumCharacters)
        let endpointCount = Int(try reader.integer(UInt8.self, "endpoint count"))
        guard endpointCount <= Self.maximumEndpoints else {
            throw reader.failure("\(endpointCount) endpoints, at most \(Self.maximumEndpoints) allowed")
        }
        var endpoints: [String] = []
        for index in 0..<endpointCount {
            endpoints.append(try reader.text("endpoint \(index)", maximumCharacters: Self.maximumEndpointCharacters))
        }
        let signature = try reader.bytes(64, "signature")
        try reader.expectEnd()
        self.init(
            key: key, displayName: displayName, nickname: nickname, created: Date(timeIntervalSince1970: TimeInterval(created)),
            expires: Date(timeIntervalSince1970: TimeInterval(expires)), endpoints: endpoints, signature: signature)
        guard key.isValidSignature(signature, for: Self.signedPart(key: key, displayName: displayName, nickname: nickname, created: self.created, expires: self.expires, endpoints: endpoints)) else {
            throw CollaborationError(.badSignature, "the contact card's signature does not verify: the card was altered or not signed by its key")
        }
        guard self.expires > now else {
            throw CollaborationError(.expired, "the contact card of \(displayName) expired on \(ISO8601DateFormatter().string(from: self.expires))")
        }
        if let expectedFingerprint, Fingerprint.normalized(expectedFingerprint) != key.fingerprint {
            throw CollaborationError(.wrongKey, "the contact card's key has fingerprint \(key.fingerprint), not \(expectedFingerprint)")
        }
    }

    /// Reads a card given as its `peerdist-contact:` text, or as the bytes of a card file (which
    /// may also hold the text).
    public init(parsing text: String, now: Date = Date(), expectedFingerprint: String? = nil) throws(CollaborationError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.lowercased().hasPrefix(Self.uriScheme) else {
            throw CollaborationError(.malformed, "not a contact card: it does not start with \(Self.uriScheme)")
        }
        guard let bytes = Base64URL.decode(String(trimmed.dropFirst(Self.uriScheme.count))) else {
            throw CollaborationError(.malformed, "the contact card's text is not base64url")
        }
        try self.init(decoding: bytes, now: now, expectedFingerprint: expectedFingerprint)
    }

    /// A card file's bytes: the binary card, or a file holding its text form.
    public init(file bytes: [UInt8], now: Date = Date(), expectedFingerprint: String? = nil) throws(CollaborationError) {
        if bytes.starts(with: Self.magic) {
            try self.init(decoding: bytes, now: now, expectedFingerprint: expectedFingerprint)
        } else {
            try self.init(parsing: String(decoding: bytes.prefix(64 * 1024), as: UTF8.self), now: now, expectedFingerprint: expectedFingerprint)
        }
    }
}

/// Fingerprints as people type them: any case, with or without the dashes.
public enum Fingerprint {
    /// `ABCD efgh-ijklmnop` → `abcd-efgh-ijkl-mnop`; `nil` when it is not 16 base32 characters.
    public static func parse(_ text: String) -> String? {
        let characters = Array(text.lowercased().filter { $0 != "-" && $0 != " " })
        guard characters.count == 16, characters.allSatisfy({ $0.isASCII && (("a"..."z").contains($0) || ("2"..."7").contains($0)) }) else { return nil }
        return stride(from: 0, to: 16, by: 4).map { String(characters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// The fingerprint as `PeerKey.fingerprint` writes it, or the text lowercased when it is none.
    public static func normalized(_ text: String) -> String { parse(text) ?? text.lowercased() }
}

/// base64url without padding (RFC 4648 §5), the alphabet that survives URIs and chat.
package enum Base64URL {
    package static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    package static func decode(_ text: String) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
