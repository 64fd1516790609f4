import Foundation
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire
import Synchronization

/// Invitations this node sent and how each ended, for `peerdist invitations --sent`.
final class SentInvitations: Sendable {
    struct Entry: Sendable {
        let invitation: Invitation
        let recipient: PeerKey
        let recipientName: String
        let sent: Date
        var outcome: InvitationOutcome?
    }

    private let entries = PThreadMutex<[Entry]>([])
    static let remembered = 256

    func sent(_ entry: Entry) {
        entries.withLock { entries in
            entries.append(entry)
            if entries.count > Self.remembered { entries.removeFirst(entries.count - Self.remembered) }
        }
    }

    func ended(_ id: [UInt8], _ outcome: InvitationOutcome) {
        entries.withLock { entries in
            if let index = entries.lastIndex(where: { $0.invitation.id == id }) { entries[index].outcome = outcome }
        }
    }

    var all: [Entry] { entries.withLock { $0 } }
}

extension Collaboration {
    /// Sends `invitation` to `contact` over a channel authenticated as them, and reports its
    /// progress: `.pending` once it is delivered, then how it ended. The connection stays open
    /// until then, and the stream ends with an error when the recipient cannot be reached.
    public func invite(_ contact: Contact, _ invitation: Invitation) -> AsyncThrowingStream<InvitationOutcome, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: InvitationOutcome.self)
        Task {
            do {
                let channel = try await connect(to: contact.key)
                sentInvitations.sent(SentInvitations.Entry(invitation: invitation, recipient: contact.key, recipientName: contact.displayName, sent: Date()))
                let message = CollaborationMessage.invite(invitation)
                let outcome = try await channel.executeThenClose { inbound, outbound -> InvitationOutcome in
                    try await outbound.write(.collaboration(requestID: 1, kind: message.kind, payload: message.payload()))
                    for try await reply in inbound {
                        guard case .collaboration(1, let kind, let payload) = reply,
                              case .invitationAnswer(let id, let outcome) = try CollaborationMessage(kind: kind, payload: payload), id == invitation.id
                        else { throw NodeError(.protocolViolation, "\(contact.displayName)'s node answered an invitation with something else") }
                        if outcome == .pending {
                            continuation.yield(.pending)
                            continue
                        }
                        return outcome
                    }
                    // The recipient's node went away before answering.
                    return .expired
                }
                sentInvitations.ended(invitation.id, outcome)
                var event = CollaborationEvent(.invitationAnswer, fingerprint: contact.fingerprint, name: contact.displayName)
                event.invitation = invitation.idText
                event.subject = invitation.subject.text
                event.outcome = outcome
                emit(event)
                continuation.yield(outcome)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return stream
    }
}
