import PeerDistHashing
import Synchronization

/// The chunks a follower still needs, shared by the sessions to every peer it fetches from:
/// each session takes a batch as its pipe has room, and gives back what its peer lacks or what
/// was outstanding when its peer failed, so the others pick it up.
final class MirrorChunkQueue: Sendable {
    private struct State {
        /// Chunks neither held nor asked of anyone, in file order, from `next` on.
        let order: [ChunkReference]
        var next = 0
        /// Chunks given back, taken before the rest.
        var returned: [ChunkReference] = []
        /// Chunks asked of each peer and not delivered yet: hash → length.
        var outstanding: [PeerAddress: [HashValue: UInt32]] = [:]
        var lacking: [PeerAddress: Set<HashValue>] = [:]
        var remaining: Int
        var peers: Set<PeerAddress> = []

        /// Whether a chunk not asked of anyone is outside `lacking`.
        func hasUnassigned(outside lacking: Set<HashValue>) -> Bool {
            returned.contains { !lacking.contains($0.hash) } || order[next...].contains { !lacking.contains($0.hash) }
        }
    }

    private let state: PThreadMutex<State>

    /// `missing` deduplicated by hash. The queue keeps this one list of what is missing (a large
    /// tree has hundreds of thousands of chunks), and indexes by hash only what is in flight.
    init(missing: [ChunkReference]) {
        var seen = Set<HashValue>(minimumCapacity: missing.count)
        // Usually distinct already: then the caller's array is shared, not copied.
        let order: [ChunkReference]
        if missing.allSatisfy({ seen.insert($0.hash).inserted }) {
            order = missing
        } else {
            seen.removeAll(keepingCapacity: true)
            order = missing.filter { seen.insert($0.hash).inserted }
        }
        state = PThreadMutex(State(order: order, remaining: order.count))
    }

    var isComplete: Bool { state.withLock { $0.remaining == 0 } }
    var remaining: Int { state.withLock { $0.remaining } }

    func join(_ peer: PeerAddress) {
        _ = state.withLock { $0.peers.insert(peer) }
    }

    /// Ends a peer's part: what it had outstanding goes back to the queue.
    func leave(_ peer: PeerAddress) {
        state.withLock { state in
            state.peers.remove(peer)
            let outstanding = state.outstanding.removeValue(forKey: peer) ?? [:]
            state.returned.append(contentsOf: outstanding.map { ChunkReference(hash: $0.key, length: $0.value) })
        }
    }

    /// Up to `count` chunks, and about `bytes` at most, for `peer` to ask for: none it lacks.
    func take(for peer: PeerAddress, count: Int, bytes: Int) -> [ChunkReference] {
        state.withLock { state in
            var batch: [ChunkReference] = []
            var total = 0
            let lacking = state.lacking[peer] ?? []
            func admit(_ chunk: ChunkReference) -> Bool {
                guard batch.count < count, total < bytes, !lacking.contains(chunk.hash) else { return false }
                batch.append(chunk)
                total += Int(chunk.length)
                return true
            }
            state.returned.removeAll(where: admit)
            while batch.count < count, total < bytes, state.next < state.order.count {
                let chunk = state.order[state.next]
                state.next += 1
                if !admit(chunk) { state.returned.append(chunk) }
            }
            for chunk in batch { state.outstanding[peer, default: [:]][chunk.hash] = chunk.length }
            return batch
        }
    }

    /// A chunk arrived from `peer` and was kept.
    func delivered(_ hash: HashValue, by peer: PeerAddress) {
        state.withLock { state in
            if state.outstanding[peer]?.removeValue(forKey: hash) != nil { state.remaining -= 1 }
        }
    }

    /// `peer` does not hold the chunk: another is asked.
    func lacks(_ hash: HashValue, peer: PeerAddress) {
        state.withLock { state in
            guard let length = state.outstanding[peer]?.removeValue(forKey: hash) else { return }
            state.lacking[peer, default: []].insert(hash)
            state.returned.append(ChunkReference(hash: hash, length: length))
        }
    }

    /// Whether `peer` has nothing left it could be asked for.
    func isExhausted(for peer: PeerAddress) -> Bool {
        state.withLock { state in
            !state.hasUnassigned(outside: state.lacking[peer] ?? [])
        }
    }
}
