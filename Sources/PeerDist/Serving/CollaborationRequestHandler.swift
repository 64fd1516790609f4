import Foundation
import NIOCore
import PeerDistCollaboration
import PeerDistWire

/// Answers what another node asks about the person behind this one, by the rules of
/// `Collaboration`, to the key the channel authenticated: a card, objects, a watch of presence
/// and objects, an invitation. Someone not allowed is refused with a message that says no more
/// than that.
struct CollaborationRequestHandler: Sendable {
    let collaboration: Collaboration

    /// Work that outlives the request's turn (a watch, an invitation waiting for its answer):
    /// run beside the connection's other requests until it ends or the connection does.
    typealias LongLived = @Sendable () async throws -> Void

    func handle(
        requestID: UInt32, kind: UInt8, payload: [UInt8], remote: PeerKey, outbound: NIOAsyncChannelOutboundWriter<PeerMessage>
    ) async throws -> LongLived? {
        let request: CollaborationMessage
        do {
            request = try CollaborationMessage(kind: kind, payload: payload)
        } catch {
            throw NodeError(.protocolViolation, "\(error)")
        }
        let reply = { @Sendable (message: CollaborationMessage) async throws in
            try await outbound.write(.collaboration(requestID: requestID, kind: message.kind, payload: message.payload()))
        }
        switch request {
        case .getCard:
            try await reply(collaboration.mayReadCard(remote) ? .card(collaboration.card()) : .refused(reason: "not shared"))
        case .listObjects:
            let visible = collaboration.visibleObjects(for: remote)
            try await reply(visible.isEmpty && !collaboration.mayWatch(remote) ? .refused(reason: "not shared") : .objectList(visible.map(\.summary)))
        case .getObject(let name):
            let object = collaboration.visibleObjects(for: remote).first { $0.name == name }
            try await reply(object.map(CollaborationMessage.object) ?? .refused(reason: "no such object"))
        case .watch:
            guard collaboration.mayWatch(remote) else {
                try await reply(.refused(reason: "not shared"))
                return nil
            }
            return { try await serveWatch(remote: remote, reply: reply) }
        case .invite(let invitation):
            guard collaboration.mayInvite(remote) else {
                try await reply(.invitationAnswer(id: invitation.id, outcome: .refused))
                return nil
            }
            return { try await serveInvitation(invitation, from: remote, reply: reply) }
        case .card, .update, .heartbeat, .objectList, .object, .invitationAnswer, .audience, .refused:
            throw NodeError(.protocolViolation, "a peer sent a collaboration reply where a request was expected")
        }
        return nil
    }

    /// Sends the watcher my presence and objects now and on every change, and a heartbeat when
    /// nothing changes, until the connection ends or the owner blocks them.
    private func serveWatch(remote: PeerKey, reply: @escaping @Sendable (CollaborationMessage) async throws -> Void) async throws {
        let changes = collaboration.localChanges.subscribe(bufferingNewest: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: collaboration.heartbeatInterval)
                    try await reply(.heartbeat)
                }
            }
            group.addTask {
                var sent: UInt64?
                var pending = changes.makeAsyncIterator()
                repeat {
                    guard collaboration.mayWatch(remote) else {
                        try await reply(.refused(reason: "not shared"))
                        return
                    }
                    let presence = collaboration.presence
                    let objects = collaboration.visibleObjects(for: remote).map(\.summary)
                    try await reply(.update(presence: presence.sequence == sent ? nil : presence, objects: objects))
                    collaboration.logger.debug("sent a watcher an update", metadata: ["peer.fingerprint": "\(remote.fingerprint)", "sequence": "\(presence.sequence)"])
                    sent = presence.sequence
                } while await pending.next() != nil
                if !Task.isCancelled {
                    collaboration.logger.warning("a watch stopped receiving changes", metadata: ["peer.fingerprint": "\(remote.fingerprint)"])
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Files the invitation, says it arrived, and answers when the owner decides or it expires.
    private func serveInvitation(_ invitation: Invitation, from sender: PeerKey, reply: @escaping @Sendable (CollaborationMessage) async throws -> Void) async throws {
        let name = collaboration.displayName(of: sender)
        guard let (entry, decisions) = collaboration.inbox.receive(invitation, from: sender, senderName: name) else {
            try await reply(.invitationAnswer(id: invitation.id, outcome: .refused))
            return
        }
        defer { collaboration.inbox.remove(entry.number) }
        var event = CollaborationEvent(.invitation, fingerprint: sender.fingerprint, name: name)
        event.number = entry.number
        event.invitation = invitation.idText
        event.subject = invitation.subject.text
        event.message = invitation.message
        collaboration.emit(event)
        try await reply(.invitationAnswer(id: invitation.id, outcome: .pending))
        let outcome = await withTaskGroup(of: InvitationOutcome?.self) { group in
            group.addTask { await decisions.first { _ in true } }
            group.addTask {
                try? await Task.sleep(for: .seconds(invitation.lifetime))
                return .expired
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .expired
        }
        if outcome == .expired {
            var expired = CollaborationEvent(.invitationAnswer, fingerprint: sender.fingerprint, name: name)
            expired.number = entry.number
            expired.invitation = invitation.idText
            expired.outcome = .expired
            collaboration.emit(expired)
        }
        try await reply(.invitationAnswer(id: invitation.id, outcome: outcome))
    }
}
