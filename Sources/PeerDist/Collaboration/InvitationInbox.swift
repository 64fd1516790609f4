import Foundation
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire
import Synchronization

/// Invitations received and not yet answered, numbered for `peerdist invitations accept N`.
/// Each waits on its own decision; the connection that brought it carries the answer back.
final class InvitationInbox: Sendable {
    struct Entry: Sendable {
        let number: Int
        let invitation: Invitation
        let sender: PeerKey
        let senderName: String
        let received: Date
        let expires: Date
        let decision: AsyncStream<InvitationOutcome>.Continuation
    }

    private let entries = PThreadMutex<(next: Int, pending: [Int: Entry])>((0, [:]))
    /// At most this many wait at once: each holds a connection, and a flood must not pile up.
    static let maximumPending = 64

    /// Files an invitation; `nil` when too many wait already.
    func receive(_ invitation: Invitation, from sender: PeerKey, senderName: String) -> (Entry, AsyncStream<InvitationOutcome>)? {
        let (decisions, continuation) = AsyncStream.makeStream(of: InvitationOutcome.self, bufferingPolicy: .bufferingNewest(1))
        return entries.withLock { state -> (Entry, AsyncStream<InvitationOutcome>)? in
            guard state.pending.count < Self.maximumPending else { return nil }
            state.next += 1
            let now = Date()
            let entry = Entry(
                number: state.next, invitation: invitation, sender: sender, senderName: senderName, received: now,
                expires: now.addingTimeInterval(invitation.lifetime), decision: continuation)
            state.pending[state.next] = entry
            return (entry, decisions)
        }
    }

    /// Takes invitation `number` off the list with `outcome` passed to its waiting connection.
    func decide(_ number: Int, _ outcome: InvitationOutcome) throws(CollaborationError) -> Entry {
        guard let entry = entries.withLock({ $0.pending.removeValue(forKey: number) }) else {
            throw CollaborationError(.notFound, "no invitation number \(number) is waiting (see `peerdist invitations`)")
        }
        entry.decision.yield(outcome)
        entry.decision.finish()
        return entry
    }

    /// Drops an invitation that expired or whose sender went away.
    func remove(_ number: Int) {
        entries.withLock { _ = $0.pending.removeValue(forKey: number) }
    }

    func entry(_ number: Int) -> Entry? { entries.withLock { $0.pending[number] } }

    var pending: [Entry] { entries.withLock { $0.pending.values.sorted { $0.number < $1.number } } }
}

/// An invitation as `peerdist invitations` lists it.
public struct PendingInvitation: Codable, Sendable, Equatable {
    public var number: Int
    public var id: String
    public var fingerprint: String
    public var name: String
    /// "content", "mirror" or "app".
    public var kind: String
    /// The content ID, mirror name or application name.
    public var subject: String
    public var message: String
    public var received: Date
    public var secondsLeft: Int

    enum CodingKeys: String, CodingKey {
        case number, id, fingerprint, name, kind, subject, message, received
        case secondsLeft = "seconds_left"
    }
}

extension InvitationInbox.Entry {
    var listing: PendingInvitation {
        PendingInvitation(
            number: number, id: invitation.idText, fingerprint: sender.fingerprint, name: senderName, kind: invitation.subject.kind,
            subject: invitation.subject.text, message: invitation.message, received: received,
            secondsLeft: max(0, Int(expires.timeIntervalSinceNow.rounded(.up))))
    }
}

extension Invitation.Subject {
    public var kind: String {
        switch self {
        case .content: "content"
        case .mirror: "mirror"
        case .application: "app"
        }
    }

    public var text: String {
        switch self {
        case .content(let id): id
        case .mirror(let name): name
        case .application(let name, _): name
        }
    }
}
