import PeerDistHashing
import Synchronization

/// The chunks a follower still needs, shared by the sessions to every peer it fetches from:
/// each session takes a batch as its pipe has room, and gives back what its peer lacks or what
/// was outstanding when its peer failed, so the others pick it up.
final class MirrorChunkQueue: Sendable {
    private struct State {
        let lengths: [HashValue: UInt32]
        /// Chunks neither held nor asked of anyone, in file order, from `next` on.
        let order: [HashValue]
        var next = 0
        /// Chunks given back, taken before the rest.
        var returned: [HashValue] = []
        var outstanding: [PeerAddress: Set<HashValue>] = [:]
        var lacking: [PeerAddress: Set<HashValue>] = [:]
        var remaining: Int
        var peers: Set<PeerAddress> = []

        var unassigned: [HashValue] { returned + order[next...] }
    }

    private let state: PThreadMutex<State>

    /// `missing` deduplicated by hash.
    init(missing: [ChunkReference]) {
        var lengths: [HashValue: UInt32] = [:]
        lengths.reserveCapacity(missing.count)
        var order: [HashValue] = []
        order.reserveCapacity(missing.count)
        for chunk in missing where lengths.updateValue(chunk.length, forKey: chunk.hash) == nil { order.append(chunk.hash) }
        state = PThreadMutex(State(lengths: lengths, order: order, remaining: order.count))
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
            state.returned.append(contentsOf: state.outstanding.removeValue(forKey: peer) ?? [])
        }
    }

    /// Up to `count` chunks, and about `bytes` at most, for `peer` to ask for: none it lacks.
    func take(for peer: PeerAddress, count: Int, bytes: Int) -> [ChunkReference] {
        state.withLock { state in
            var batch: [ChunkReference] = []
            var total = 0
            let lacking = state.lacking[peer] ?? []
            func admit(_ hash: HashValue) -> Bool {
                guard batch.count < count, total < bytes, !lacking.contains(hash), let length = state.lengths[hash] else { return false }
                batch.append(ChunkReference(hash: hash, length: length))
                total += Int(length)
                return true
            }
            state.returned.removeAll(where: admit)
            while batch.count < count, total < bytes, state.next < state.order.count {
                let hash = state.order[state.next]
                state.next += 1
                if !admit(hash) { state.returned.append(hash) }
            }
            state.outstanding[peer, default: []].formUnion(batch.map(\.hash))
            return batch
        }
    }

    /// A chunk arrived from `peer` and was kept.
    func delivered(_ hash: HashValue, by peer: PeerAddress) {
        state.withLock { state in
            if state.outstanding[peer]?.remove(hash) != nil { state.remaining -= 1 }
        }
    }

    /// `peer` does not hold the chunk: another is asked.
    func lacks(_ hash: HashValue, peer: PeerAddress) {
        state.withLock { state in
            guard state.outstanding[peer]?.remove(hash) != nil else { return }
            state.lacking[peer, default: []].insert(hash)
            state.returned.append(hash)
        }
    }

    /// Whether `peer` has nothing left it could be asked for.
    func isExhausted(for peer: PeerAddress) -> Bool {
        state.withLock { state in
            let lacking = state.lacking[peer] ?? []
            return !state.unassigned.contains { !lacking.contains($0) }
        }
    }
}
