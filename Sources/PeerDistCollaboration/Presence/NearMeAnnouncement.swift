import Foundation
import PeerDistWire

/// What a person with People Near Me on says on the LAN: who they are, their status and the
/// port their node takes connections on, signed. Sent when it changes and refreshed every
/// `refreshInterval`; a receiver forgets a person not heard for `lifetime`, and one who turns
/// People Near Me off says so with `leaving`.
///
/// ```
/// "PDNM" version(1)=1 key(32) sequence(u64) port(u16) status(u8) flags(u8)
/// display name(text) nickname(text) signature(64)
/// ```
/// The sequence is milliseconds since 1970 and only grows; a receiver refuses one not newer than
/// the last it accepted from that key, and one more than `maximumAge` away from its own clock,
/// so a recorded announcement cannot be replayed later.
public struct NearMeAnnouncement: Hashable, Sendable {
    public static let magic = Array("PDNM".utf8)
    public static let refreshInterval: Duration = .seconds(60)
    public static let lifetime: Duration = .seconds(150)
    /// Clocks on one LAN agree to well within this; a replay must come sooner, and then the
    /// sequence window refuses it.
    public static let maximumAge: TimeInterval = 300

    public let key: PeerKey
    public let sequence: UInt64
    public let port: UInt16
    public let status: PresenceStatus
    /// The person turned People Near Me off (or their node is stopping): forget them now.
    public let leaving: Bool
    public let displayName: String
    public let nickname: String
    public let signature: [UInt8]

    public init(details: PersonDetails, status: PresenceStatus, port: UInt16, leaving: Bool = false, identity: NodeIdentity, sequence: UInt64) {
        self.key = identity.publicKey
        self.sequence = sequence
        self.port = port
        self.status = status
        self.leaving = leaving
        self.displayName = details.displayName
        self.nickname = details.nickname
        self.signature = identity.sign(Self.signedPart(key: key, sequence: sequence, port: port, status: status, leaving: leaving, displayName: displayName, nickname: nickname))
    }

    static func signedPart(key: PeerKey, sequence: UInt64, port: UInt16, status: PresenceStatus, leaving: Bool, displayName: String, nickname: String) -> [UInt8] {
        var writer = FieldWriter()
        writer.append(contentsOf: magic)
        writer.append(UInt8(1))
        writer.append(contentsOf: key.bytes)
        writer.append(sequence)
        writer.append(port)
        writer.append(status.code)
        writer.append(UInt8(leaving ? 1 : 0))
        writer.append(text: displayName)
        writer.append(text: nickname)
        return writer.bytes
    }

    public func encoded() -> [UInt8] {
        Self.signedPart(key: key, sequence: sequence, port: port, status: status, leaving: leaving, displayName: displayName, nickname: nickname) + signature
    }

    /// Decodes an announcement and checks its signature (freshness and replay are the
    /// receiver's: see `isFresh(now:)` and `SequenceWindow`).
    public init(decoding bytes: some Collection<UInt8>) throws(CollaborationError) {
        var reader = FieldReader<CollaborationError>(bytes, subject: "near-me announcement")
        guard try reader.bytes(4, "magic") == Self.magic, try reader.integer(UInt8.self, "version") == 1 else {
            throw reader.failure("not a version 1 announcement", at: 0)
        }
        key = try reader.peerKey("key")
        sequence = try reader.integer(UInt64.self, "sequence")
        port = try reader.integer(UInt16.self, "port")
        let code = try reader.integer(UInt8.self, "status")
        guard let status = PresenceStatus(code: code) else { throw reader.failure("status \(code) is not one of the eight") }
        self.status = status
        let flags = try reader.integer(UInt8.self, "flags")
        guard flags <= 1 else { throw reader.failure("unknown flags \(flags)") }
        leaving = flags == 1
        displayName = try reader.text("display name", maximumCharacters: PersonDetails.maximumCharacters)
        nickname = try reader.text("nickname", maximumCharacters: PersonDetails.maximumCharacters)
        signature = try reader.bytes(64, "signature")
        try reader.expectEnd()
        guard key.isValidSignature(signature, for: Self.signedPart(key: key, sequence: sequence, port: port, status: status, leaving: leaving, displayName: displayName, nickname: nickname)) else {
            throw CollaborationError(.badSignature, "a near-me announcement from \(key.fingerprint) is not signed by that key")
        }
    }

    /// Whether it was made within `maximumAge` of `now`, by the sender's clock.
    public func isFresh(now: Date = Date()) -> Bool {
        abs(TimeInterval(sequence) / 1000 - now.timeIntervalSince1970) <= Self.maximumAge
    }
}
