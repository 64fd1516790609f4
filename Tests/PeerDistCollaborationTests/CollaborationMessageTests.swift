import Foundation
import PeerDistWire
import Testing

@testable import PeerDistCollaboration

/// The collaboration messages: every case survives its payload codec, and a payload cut short,
/// of an unknown kind, too large or holding an object outside Windows' limits is refused.
struct CollaborationMessageTests {
    /// One of each case, and the edge of each list.
    static func samples() throws -> [CollaborationMessage] {
        let identity = NodeIdentity.generate()
        let presence = try Presence(status: .beRightBack, note: "coffee ☕", identity: identity, sequence: 1_767_225_600_000)
        let avatar = try PublishedObject(name: "avatar.png", data: Array(repeating: 0x89, count: 300), scope: .contacts)
        let offers = try PublishedObject(name: "offers", data: Array("one two".utf8), scope: .nearMe)
        let id = Array(0..<16) as [UInt8]
        return [
            .getCard,
            .card(try ContactCard.sample(identity: identity)),
            .watch,
            .update(presence: presence, objects: [avatar.summary, offers.summary]),
            .update(presence: nil, objects: []),
            .heartbeat,
            .listObjects,
            .objectList([avatar.summary, offers.summary]),
            .objectList([]),
            .getObject(name: "avatar.png"),
            .object(avatar),
            .object(try PublishedObject(name: "largest", data: Array(repeating: 7, count: PublishedObject.maximumSize), scope: .nearMe)),
            .invite(try Invitation(id: id, subject: .content("0123abcd"), message: "the slides ✓", lifetime: 300)),
            .invite(try Invitation(id: id, subject: .mirror("photos"), message: "", lifetime: 1)),
            .invite(try Invitation(id: id, subject: .application(name: "whiteboard", data: [1, 2, 3]), message: "draw", lifetime: Invitation.maximumLifetime)),
            .invite(try Invitation(id: id, subject: .application(name: "chat", data: []), message: "hi")),
            .invitationAnswer(id: id, outcome: .accepted),
            .invitationAnswer(id: id, outcome: .declined),
            .invitationAnswer(id: id, outcome: .expired),
            .invitationAnswer(id: id, outcome: .refused),
            .audience([identity.publicKey, NodeIdentity.generate().publicKey]),
            .audience([]),
            .refused(reason: "not a contact"),
            .refused(reason: ""),
        ]
    }

    @Test(arguments: try samples())
    func everyCaseSurvivesItsPayload(_ message: CollaborationMessage) throws {
        let payload = message.payload()
        #expect(payload.count <= CollaborationMessage.maximumPayload)
        let decoded = try CollaborationMessage(kind: message.kind, payload: payload)
        #expect(decoded == message)
        #expect(decoded.payload() == payload)
    }

    @Test func theSamplesCoverEveryKind() throws {
        #expect(Set(try Self.samples().map(\.kind)) == Set(1...13))
    }

    @Test(arguments: try samples().filter { !$0.payload().isEmpty })
    func everyTruncationOfAPayloadIsRefused(_ message: CollaborationMessage) throws {
        let payload = message.payload()
        for prefix in truncations(of: payload) {
            expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: message.kind, payload: prefix) }
        }
        expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: message.kind, payload: payload + [0]) }
    }

    @Test func emptyMessagesRefuseAPayload() {
        for kind: UInt8 in [1, 3, 5, 6] {
            #expect(throws: Never.self) { try CollaborationMessage(kind: kind, payload: []) }
            expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: kind, payload: [0]) }
        }
    }

    @Test(arguments: [0, 14, 128, 255] as [UInt8])
    func anUnknownKindIsRefused(_ kind: UInt8) {
        let error = expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: kind, payload: []) }
        #expect(error?.message.contains("unknown") == true)
    }

    @Test func anOversizedPayloadIsRefused() {
        var writer = FieldWriter()
        writer.append(UInt8(0))
        writer.append(UInt8(0))
        let oversized = writer.bytes + [UInt8](repeating: 0, count: CollaborationMessage.maximumPayload - 1)
        let error = expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: 4, payload: oversized) }
        #expect(error?.message.contains("\(CollaborationMessage.maximumPayload)") == true)
    }

    /// An `object` payload as a peer could send it, whatever the data's size.
    static func objectPayload(name: String, scope: UInt8 = 1, data: [UInt8]) -> [UInt8] {
        var writer = FieldWriter()
        writer.append(text: name)
        writer.append(scope)
        writer.append(UInt16(data.count))
        writer.append(contentsOf: data)
        return writer.bytes
    }

    @Test func objectsOfNoBytesOr16KiBAreRefused() throws {
        for size in [0, 16 * 1024, 16 * 1024 + 1] {
            let data = [UInt8](repeating: 1, count: size)
            expectFailure(.invalidValue) { () throws(CollaborationError) in try PublishedObject(name: "blob", data: data, scope: .contacts) }
            expectFailure(.invalidValue) { () throws(CollaborationError) in try CollaborationMessage(kind: 9, payload: Self.objectPayload(name: "blob", data: data)) }
        }
        let largest = [UInt8](repeating: 1, count: 16 * 1024 - 1)
        let message = try CollaborationMessage(kind: 9, payload: Self.objectPayload(name: "blob", data: largest))
        #expect(message == .object(try PublishedObject(name: "blob", data: largest, scope: .contacts)))
    }

    @Test func badObjectNamesAndScopesAreRefused() {
        for name in ["", ".", "..", "a/b", "ä", String(repeating: "n", count: 65)] {
            expectFailure(name.count > 64 ? .malformed : .invalidValue) { () throws(CollaborationError) in
                try CollaborationMessage(kind: 9, payload: Self.objectPayload(name: name, data: [1]))
            }
        }
        expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: 9, payload: Self.objectPayload(name: "a", scope: 3, data: [1])) }
    }

    @Test func summariesOfImpossibleObjectsAreRefused() throws {
        let summary = try PublishedObject(name: "a", data: [1], scope: .contacts).summary
        for size: UInt32 in [0, 16 * 1024] {
            var changed = summary
            changed.size = size
            let payload = CollaborationMessage.objectList([changed]).payload()
            expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: 7, payload: payload) }
        }
        // More than 128 objects.
        var writer = FieldWriter()
        writer.append(UInt8(129))
        expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: 7, payload: writer.bytes) }
    }

    @Test func anAudienceOverItsLimitIsRefused() {
        var writer = FieldWriter()
        let count = CollaborationMessage.maximumAudience + 1
        writer.append(UInt16(count))
        writer.append(contentsOf: [UInt8](repeating: 1, count: count * PeerKey.byteCount))
        let error = expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: 12, payload: writer.bytes) }
        #expect(error?.message.contains("audience") == true)
    }

    @Test func invitationsOutsideTheirLimitsAreRefused() throws {
        let id = [UInt8](repeating: 0, count: 16)
        func payload(lifetime: UInt32, subject: UInt8 = 2) -> [UInt8] {
            var writer = FieldWriter()
            writer.append(contentsOf: id)
            writer.append(lifetime)
            writer.append(text: "")
            writer.append(subject)
            writer.append(text: "photos")
            return writer.bytes
        }
        #expect(try CollaborationMessage(kind: 10, payload: payload(lifetime: 60)) == .invite(try Invitation(id: id, subject: .mirror("photos"), message: "", lifetime: 60)))
        expectFailure(.invalidValue) { () throws(CollaborationError) in try CollaborationMessage(kind: 10, payload: payload(lifetime: 0)) }
        expectFailure(.invalidValue) { () throws(CollaborationError) in try CollaborationMessage(kind: 10, payload: payload(lifetime: 7 * 24 * 3600 + 1)) }
        expectFailure(.malformed) { () throws(CollaborationError) in try CollaborationMessage(kind: 10, payload: payload(lifetime: 60, subject: 4)) }
    }

    /// A reason of 255 characters that the decoder could not take back (more than four bytes a
    /// character) is cut until it can.
    @Test func aLongReasonIsCutToWhatTheDecoderTakes() throws {
        let message = CollaborationMessage.refused(reason: String(repeating: "👨‍👩‍👧‍👦", count: 300))
        guard case .refused(let reason) = try CollaborationMessage(kind: 13, payload: message.payload()) else {
            Issue.record("not a refusal")
            return
        }
        #expect(!reason.isEmpty && reason.count <= 255)
        #expect(reason.allSatisfy { $0 == "👨‍👩‍👧‍👦" })
    }
}
