import Foundation
import PeerDistWire

/// A person's status and note at one moment, signed by their key, so that it means the same
/// whoever relays it and a watcher can check it came from the contact it watches.
///
/// ```
/// "PDPR" version(1)=1 key(32) sequence(u64) status(u8) note(text) signature(64)
/// ```
/// The sequence is the moment it was set, in milliseconds since 1970, and only grows: a watcher
/// keeps the last it accepted from each key and refuses anything not newer, so a recorded
/// presence cannot be replayed to make someone look online again.
public struct Presence: Hashable, Sendable {
    public static let magic = Array("PDPR".utf8)
    public static let maximumNoteCharacters = 255

    public let key: PeerKey
    public let sequence: UInt64
    public let status: PresenceStatus
    public let note: String
    public let signature: [UInt8]

    public init(status: PresenceStatus, note: String, identity: NodeIdentity, sequence: UInt64) throws(CollaborationError) {
        guard note.count <= Self.maximumNoteCharacters else {
            throw CollaborationError(.invalidValue, "the note has \(note.count) characters, at most \(Self.maximumNoteCharacters) allowed")
        }
        guard note.fitsText(maximumCharacters: Self.maximumNoteCharacters) else {
            throw CollaborationError(.invalidValue, "the note takes \(note.utf8.count) bytes of UTF-8, at most \(Self.maximumNoteCharacters * 4) allowed")
        }
        self.key = identity.publicKey
        self.sequence = sequence
        self.status = status
        self.note = note
        self.signature = identity.sign(Self.signedPart(key: key, sequence: sequence, status: status, note: note))
    }

    /// When it was set.
    public var date: Date { Date(timeIntervalSince1970: TimeInterval(sequence) / 1000) }

    static func signedPart(key: PeerKey, sequence: UInt64, status: PresenceStatus, note: String) -> [UInt8] {
        var writer = FieldWriter()
        writer.append(contentsOf: magic)
        writer.append(UInt8(1))
        writer.append(contentsOf: key.bytes)
        writer.append(sequence)
        writer.append(status.code)
        writer.append(text: note)
        return writer.bytes
    }

    public func encoded() -> [UInt8] { Self.signedPart(key: key, sequence: sequence, status: status, note: note) + signature }

    /// Decodes a presence and checks its signature.
    public init(decoding bytes: some Collection<UInt8>) throws(CollaborationError) {
        var reader = FieldReader<CollaborationError>(bytes, subject: "presence")
        guard try reader.bytes(4, "magic") == Self.magic, try reader.integer(UInt8.self, "version") == 1 else {
            throw reader.failure("not a version 1 presence", at: 0)
        }
        key = try reader.peerKey("key")
        sequence = try reader.integer(UInt64.self, "sequence")
        let code = try reader.integer(UInt8.self, "status")
        guard let status = PresenceStatus(code: code) else { throw reader.failure("status \(code) is not one of the eight") }
        self.status = status
        note = try reader.text("note", maximumCharacters: Self.maximumNoteCharacters)
        signature = try reader.bytes(64, "signature")
        try reader.expectEnd()
        guard key.isValidSignature(signature, for: Self.signedPart(key: key, sequence: sequence, status: status, note: note)) else {
            throw CollaborationError(.badSignature, "a presence from \(key.fingerprint) is not signed by that key")
        }
    }
}

/// The newest sequence accepted from each key: what makes a replayed announcement or presence
/// harmless. Bounded, so that a flood of made-up keys cannot grow it without limit.
public struct SequenceWindow: Sendable {
    private var newest: [PeerKey: UInt64] = [:]
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// Accepts `sequence` from `key` when it is newer than any accepted before, and remembers it.
    public mutating func accept(_ sequence: UInt64, from key: PeerKey) throws(CollaborationError) {
        if let last = newest[key], sequence <= last {
            throw CollaborationError(.replayed, "a record from \(key.fingerprint) with sequence \(sequence) is not newer than \(last), already seen")
        }
        if newest[key] == nil, newest.count >= capacity, let oldest = newest.min(by: { $0.value < $1.value })?.key {
            newest.removeValue(forKey: oldest)
        }
        newest[key] = sequence
    }

    public func last(from key: PeerKey) -> UInt64? { newest[key] }
}

/// A clock of sequences that only grows, even when the wall clock steps back or two records are
/// made within a millisecond.
public struct SequenceClock: Sendable {
    private var last: UInt64

    public init(last: UInt64 = 0) {
        self.last = last
    }

    public mutating func next(now: Date = Date()) -> UInt64 {
        last = max(last + 1, UInt64(max(0, now.timeIntervalSince1970 * 1000)))
        return last
    }
}
