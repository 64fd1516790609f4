import PeerDistHashing
import PeerDistWire
import Synchronization

/// The requests of one connection read and not yet answered, and which of them were cancelled.
final class RequestBook: Sendable {
    private struct State {
        var waiting: [UInt32: Int] = [:]
        var count = 0
        var cancelled: Set<UInt32> = []
    }

    private let state = PThreadMutex(State())

    /// Notes a request read; returns how many wait now.
    func enqueue(_ message: PeerMessage) -> Int {
        state.withLock { state in
            if let id = message.blockRequestID { state.waiting[id, default: 0] += 1 }
            state.count += 1
            return state.count
        }
    }

    func answered(_ message: PeerMessage) {
        state.withLock { state in
            state.count -= 1
            guard let id = message.blockRequestID, let waiting = state.waiting[id] else { return }
            state.waiting[id] = waiting > 1 ? waiting - 1 : nil
            if waiting == 1 { state.cancelled.remove(id) }
        }
    }

    /// Cancels a request still waiting or being answered; a cancel for anything else is moot.
    func cancel(_ id: UInt32) {
        state.withLock { state in
            if state.waiting[id] != nil { state.cancelled.insert(id) }
        }
    }

    func isCancelled(_ id: UInt32) -> Bool { state.withLock { $0.cancelled.contains(id) } }
}

extension PeerMessage {
    /// The request ID of a request for blocks or chunks, the only kinds a cancel stops.
    fileprivate var blockRequestID: UInt32? {
        switch self {
        case .getBlocks(let requestID, _, _), .getChunks(let requestID, _, _), .getChunkDelta(let requestID, _, _, _): requestID
        default: nil
        }
    }
}

