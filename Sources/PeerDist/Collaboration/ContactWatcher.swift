import Foundation
import Logging
import NIOCore
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire
import Synchronization

/// What this node knows of the contacts it watches: their last presence (checked: signed by the
/// contact, newer than the last), whether their node is reachable, and their objects.
final class WatchedContacts: Sendable {
    struct State: Sendable {
        var presence: Presence?
        /// Their node accepted the watch and has been heard within the silence timeout.
        var reachable = false
        /// Why not, when not: "not near", "does not share their presence with you", an error.
        var reason: String?
        var objects: [ObjectSummary] = []
    }

    private let states = PThreadMutex<[PeerKey: State]>([:])
    private let sequences = PThreadMutex(SequenceWindow())

    func state(of key: PeerKey) -> State? { states.withLock { $0[key] } }

    func update(_ key: PeerKey, _ change: (inout State) -> Void) -> (before: State, after: State) {
        states.withLock { states in
            let before = states[key] ?? State()
            var after = before
            change(&after)
            states[key] = after
            return (before, after)
        }
    }

    func forget(_ key: PeerKey) { _ = states.withLock { $0.removeValue(forKey: key) } }

    /// Whether `presence` is newer than the last accepted from its key; an equal sequence is the
    /// same presence again, an older one a replay.
    func accept(_ presence: Presence) throws(CollaborationError) -> Bool {
        if sequences.withLock({ $0.last(from: presence.key) }) == presence.sequence { return false }
        try sequences.withLock { (window: inout SequenceWindow) throws(CollaborationError) in try window.accept(presence.sequence, from: presence.key) }
        return true
    }
}

extension Collaboration {
    /// Watches every contact the owner watches, for as long as the node runs: one task per
    /// contact, started and stopped as the book changes.
    func runWatchers() async {
        var tasks: [PeerKey: Task<Void, Never>] = [:]
        defer { for task in tasks.values { task.cancel() } }
        while !Task.isCancelled {
            let wanted = Set(book.contacts.filter(\.watchThem).map(\.key))
            for (key, task) in tasks where !wanted.contains(key) {
                task.cancel()
                tasks[key] = nil
                watched.forget(key)
            }
            for key in wanted where tasks[key] == nil {
                tasks[key] = Task { await self.watch(key) }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Keeps a watch on `key`'s node: connects, asks to watch, takes updates, and when the
    /// connection ends or falls silent calls the contact offline and tries again.
    private func watch(_ key: PeerKey) async {
        var backoff: Duration = .milliseconds(250)
        while !Task.isCancelled {
            do {
                try await watchOnce(key)
                backoff = .milliseconds(250)
            } catch where Task.isCancelled {
                return
            } catch {
                // Including a CancellationError from a channel NIO closed under us: only this
                // task's own cancellation ends the watch, or a contact could be left unwatched
                // for good while shown as online.
                logger.info("watch ended", metadata: ["peer.fingerprint": "\(key.fingerprint)", "error": "\(error)"])
                setUnreachable(key, reason: "\(error)")
                backoff = min(backoff * 2, .seconds(5))
            }
            try? await Task.sleep(for: backoff)
        }
    }

    private func watchOnce(_ key: PeerKey) async throws {
        let channel = try await connect(to: key)
        let silence = Watchdog(timeout: silenceTimeout)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await silence.run { try? await channel.channel.close() } }
            group.addTask {
                defer { silence.finish() }
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(.collaboration(requestID: 1, kind: CollaborationMessage.watch.kind, payload: []))
                    for try await message in inbound {
                        silence.touch()
                        guard case .collaboration(1, let kind, let payload) = message else {
                            throw NodeError(.protocolViolation, "a watched node sent something other than an update")
                        }
                        switch try CollaborationMessage(kind: kind, payload: payload) {
                        case .update(let presence, let objects):
                            try self.received(presence: presence, objects: objects, from: key)
                        case .heartbeat:
                            break
                        case .refused(let reason):
                            throw NodeError(.notFound, "does not share their presence with you (\(reason))")
                        default:
                            throw NodeError(.protocolViolation, "a watched node sent an unexpected message")
                        }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
        throw NodeError(.unreachable, "their node went away")
    }

    /// An update from `key`'s node: the presence must be theirs and newer than the last.
    func received(presence: Presence?, objects: [ObjectSummary], from key: PeerKey) throws {
        logger.debug("update from a watched contact", metadata: ["peer.fingerprint": "\(key.fingerprint)", "sequence": "\(presence?.sequence ?? 0)"])
        var presence = presence
        if let offered = presence {
            guard offered.key == key else {
                throw CollaborationError(.wrongKey, "a presence signed by \(offered.key.fingerprint) came from \(key.fingerprint)'s node")
            }
            // The one already held (a new connection starts with it): nothing changed.
            if try !watched.accept(offered) { presence = nil }
        }
        let (before, after) = watched.update(key) { state in
            if let presence { state.presence = presence }
            state.reachable = true
            state.reason = nil
            state.objects = objects
        }
        let name = displayName(of: key)
        if after.presence?.status != before.presence?.status || after.presence?.note != before.presence?.note || !before.reachable {
            var event = CollaborationEvent(.presence, fingerprint: key.fingerprint, name: name)
            event.status = after.presence?.status ?? .offline
            event.note = after.presence?.note
            event.since = after.presence?.date
            emit(event)
        }
        let old = Dictionary(before.objects.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let new = Dictionary(after.objects.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (objectName, summary) in new where old[objectName] != summary {
            var event = CollaborationEvent(.object, fingerprint: key.fingerprint, name: name)
            event.object = objectName
            event.change = old[objectName] == nil ? "added" : "changed"
            emit(event)
        }
        for objectName in old.keys where new[objectName] == nil {
            var event = CollaborationEvent(.object, fingerprint: key.fingerprint, name: name)
            event.object = objectName
            event.change = "removed"
            emit(event)
        }
    }

    private func setUnreachable(_ key: PeerKey, reason: String) {
        let (before, _) = watched.update(key) { state in
            state.reachable = false
            state.reason = reason
        }
        if before.reachable {
            var event = CollaborationEvent(.presence, fingerprint: key.fingerprint, name: displayName(of: key))
            event.status = .offline
            emit(event)
        }
    }
}
