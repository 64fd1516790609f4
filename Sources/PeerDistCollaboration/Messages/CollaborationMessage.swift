import Foundation
import PeerDistWire

/// What two people's nodes say to each other about the people behind them, inside a secure
/// channel (one `PeerMessage.collaboration` carries one): cards, presence, objects and
/// invitations. The channel has already proven whose key is at the other end, so requests
/// carry no signature of their own; presence carries one so that it can be checked whoever
/// relays it.
///
/// ```
/// kind 1  getCard                                   → card
/// kind 2  card           contact card bytes
/// kind 3  watch                                     → update, then updates and heartbeats until closed
/// kind 4  update         has presence(u8) [presence bytes(u16 length)] object count(u8) summaries
/// kind 5  heartbeat
/// kind 6  listObjects                               → objectList
/// kind 7  objectList     count(u8) summaries
/// kind 8  getObject      name(text)                 → object, or refused
/// kind 9  object         name(text) scope(u8) data(u16 length)
/// kind 10 invite         invitation                 → invitationAnswer (when answered or expired)
/// kind 11 invitationAnswer  id(16) outcome(u8: 1 accepted, 2 declined, 3 expired, 4 refused, 5 pending)
/// kind 12 audience       count(u16) keys(32 each)   before the Content Information of private content
/// kind 13 refused        reason(text)
/// ```
/// A summary is name(text) size(u32) digest(32) scope(u8). An invitation is id(16) lifetime(u32 s)
/// message(text) subject(u8: 1 content, 2 mirror, 3 application) and then the content ID or
/// mirror name (text), or the application name (text) and data (u16 length).
public enum CollaborationMessage: Hashable, Sendable {
    case getCard
    case card(ContactCard)
    case watch
    case update(presence: Presence?, objects: [ObjectSummary])
    case heartbeat
    case listObjects
    case objectList([ObjectSummary])
    case getObject(name: String)
    case object(PublishedObject)
    case invite(Invitation)
    case invitationAnswer(id: [UInt8], outcome: InvitationOutcome)
    case audience([PeerKey])
    case refused(reason: String)

    public static let maximumAudience = 1024
    /// A message's payload at most: an object or application data and their headers.
    public static let maximumPayload = 40 * 1024

    public var kind: UInt8 {
        switch self {
        case .getCard: 1
        case .card: 2
        case .watch: 3
        case .update: 4
        case .heartbeat: 5
        case .listObjects: 6
        case .objectList: 7
        case .getObject: 8
        case .object: 9
        case .invite: 10
        case .invitationAnswer: 11
        case .audience: 12
        case .refused: 13
        }
    }

    public func payload() -> [UInt8] {
        var writer = FieldWriter()
        switch self {
        case .getCard, .watch, .heartbeat, .listObjects:
            break
        case .card(let card):
            writer.append(contentsOf: card.encoded())
        case .update(let presence, let objects):
            if let presence {
                let bytes = presence.encoded()
                writer.append(UInt8(1))
                writer.append(UInt16(bytes.count))
                writer.append(contentsOf: bytes)
            } else {
                writer.append(UInt8(0))
            }
            writer.append(summaries: objects)
        case .objectList(let objects):
            writer.append(summaries: objects)
        case .getObject(let name):
            writer.append(text: name)
        case .object(let object):
            writer.append(text: object.name)
            writer.append(object.scope == .contacts ? UInt8(1) : UInt8(2))
            writer.append(UInt16(object.data.count))
            writer.append(contentsOf: object.data)
        case .invite(let invitation):
            writer.append(contentsOf: invitation.id)
            writer.append(UInt32(invitation.lifetime))
            writer.append(text: invitation.message)
            switch invitation.subject {
            case .content(let id):
                writer.append(UInt8(1))
                writer.append(text: id)
            case .mirror(let name):
                writer.append(UInt8(2))
                writer.append(text: name)
            case .application(let name, let data):
                writer.append(UInt8(3))
                writer.append(text: name)
                writer.append(UInt16(data.count))
                writer.append(contentsOf: data)
            }
        case .invitationAnswer(let id, let outcome):
            writer.append(contentsOf: id)
            writer.append(outcome.code)
        case .audience(let keys):
            writer.append(UInt16(keys.count))
            for key in keys { writer.append(contentsOf: key.bytes) }
        case .refused(let reason):
            // Cut to what the decoder takes back: 255 characters, of four bytes each at most.
            var cut = String(reason.prefix(255))
            while !cut.fitsText(maximumCharacters: 255) { cut.removeLast() }
            writer.append(text: cut)
        }
        return writer.bytes
    }

    /// Decodes one payload of `kind`; anything malformed, out of its limits or left over is an
    /// error naming the field.
    public init(kind: UInt8, payload: some Collection<UInt8>) throws(CollaborationError) {
        guard payload.count <= Self.maximumPayload else {
            throw CollaborationError(.malformed, "a collaboration message of \(payload.count) bytes; at most \(Self.maximumPayload) allowed")
        }
        var reader = FieldReader<CollaborationError>(payload, subject: "collaboration message \(kind)")
        switch kind {
        case 1: self = .getCard
        case 2: self = .card(try ContactCard(decoding: try reader.bytes(reader.remaining, "card")))
        case 3: self = .watch
        case 4:
            let hasPresence = try reader.integer(UInt8.self, "presence flag")
            var presence: Presence?
            switch hasPresence {
            case 0: break
            case 1:
                let length = Int(try reader.integer(UInt16.self, "presence length"))
                presence = try Presence(decoding: try reader.bytes(length, "presence"))
            default: throw reader.failure("presence flag \(hasPresence) is not 0 or 1")
            }
            self = .update(presence: presence, objects: try reader.summaries())
        case 5: self = .heartbeat
        case 6: self = .listObjects
        case 7: self = .objectList(try reader.summaries())
        case 8:
            let name = try reader.text("object name", maximumCharacters: PublishedObject.maximumNameCharacters)
            self = .getObject(name: name)
        case 9:
            let name = try reader.text("object name", maximumCharacters: PublishedObject.maximumNameCharacters)
            let scope = try reader.scope()
            let length = Int(try reader.integer(UInt16.self, "object length"))
            self = .object(try PublishedObject(name: name, data: try reader.bytes(length, "object data"), scope: scope))
        case 10:
            let id = try reader.bytes(16, "invitation ID")
            let lifetime = try reader.integer(UInt32.self, "lifetime")
            let message = try reader.text("message", maximumCharacters: Invitation.maximumMessageCharacters)
            let subjectCode = try reader.integer(UInt8.self, "subject")
            let subject: Invitation.Subject
            switch subjectCode {
            case 1: subject = .content(try reader.text("content ID", maximumCharacters: 512))
            case 2: subject = .mirror(try reader.text("mirror name", maximumCharacters: 512))
            case 3:
                let name = try reader.text("application name", maximumCharacters: Invitation.maximumApplicationNameCharacters)
                let length = Int(try reader.integer(UInt16.self, "data length"))
                subject = .application(name: name, data: try reader.bytes(length, "application data"))
            default: throw reader.failure("invitation subject \(subjectCode) is not 1, 2 or 3")
            }
            self = .invite(try Invitation(id: id, subject: subject, message: message, lifetime: TimeInterval(lifetime)))
        case 11:
            let id = try reader.bytes(16, "invitation ID")
            let code = try reader.integer(UInt8.self, "outcome")
            guard let outcome = InvitationOutcome(code: code) else { throw reader.failure("outcome \(code) is not 1 to 5") }
            self = .invitationAnswer(id: id, outcome: outcome)
        case 12:
            let count = try reader.count(UInt16.self, ofItemsAtLeast: PeerKey.byteCount, "audience size")
            guard count <= Self.maximumAudience else { throw reader.failure("an audience of \(count), at most \(Self.maximumAudience) allowed") }
            var keys: [PeerKey] = []
            for index in 0..<count { keys.append(try reader.peerKey("key \(index)")) }
            self = .audience(keys)
        case 13:
            self = .refused(reason: try reader.text("reason", maximumCharacters: 255))
        default:
            throw CollaborationError(.malformed, "unknown collaboration message kind \(kind)")
        }
        try reader.expectEnd()
    }
}

extension InvitationOutcome {
    var code: UInt8 {
        switch self {
        case .accepted: 1
        case .declined: 2
        case .expired: 3
        case .refused: 4
        case .pending: 5
        }
    }

    init?(code: UInt8) {
        switch code {
        case 1: self = .accepted
        case 2: self = .declined
        case 3: self = .expired
        case 4: self = .refused
        case 5: self = .pending
        default: return nil
        }
    }
}

extension FieldWriter {
    fileprivate mutating func append(summaries: [ObjectSummary]) {
        append(UInt8(min(summaries.count, PublishedObject.maximumCount)))
        for summary in summaries.prefix(PublishedObject.maximumCount) {
            append(text: summary.name)
            append(summary.size)
            append(contentsOf: summary.digest)
            append(summary.scope == .contacts ? UInt8(1) : UInt8(2))
        }
    }
}

extension FieldReader where Failure == CollaborationError {
    fileprivate mutating func scope() throws(CollaborationError) -> PublishedObject.Scope {
        switch try integer(UInt8.self, "scope") {
        case 1: .contacts
        case 2: .nearMe
        case let other: throw failure("scope \(other) is not 1 or 2")
        }
    }

    fileprivate mutating func summaries() throws(CollaborationError) -> [ObjectSummary] {
        let count = try integer(UInt8.self, "object count")
        guard count <= PublishedObject.maximumCount else { throw failure("\(count) objects, at most \(PublishedObject.maximumCount) allowed") }
        var summaries: [ObjectSummary] = []
        for _ in 0..<count {
            let name = try text("object name", maximumCharacters: PublishedObject.maximumNameCharacters)
            try PublishedObject.validate(name: name)
            let size = try integer(UInt32.self, "object size")
            guard size >= 1, size <= PublishedObject.maximumSize else { throw failure("object \(name) of \(size) bytes") }
            let digest = try bytes(32, "object digest")
            summaries.append(ObjectSummary(name: name, size: size, digest: digest, scope: try scope()))
        }
        return summaries
    }
}
