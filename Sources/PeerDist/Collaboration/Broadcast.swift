import PeerDistHashing
import Synchronization

/// Hands each value to every current subscriber's stream: collaboration events to `peerdist
/// events` readers, and "my presence or objects changed" to each watching contact's connection.
/// A subscriber that reads slowly loses the oldest values beyond its buffer, never stalls the
/// sender.
final class Broadcast<Element: Sendable>: Sendable {
    private let subscribers = PThreadMutex<(next: Int, streams: [Int: AsyncStream<Element>.Continuation])>((0, [:]))

    func subscribe(bufferingNewest limit: Int) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(limit))
        let id = subscribers.withLock { state in
            state.next += 1
            state.streams[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0.streams.removeValue(forKey: id) }
        }
        return stream
    }

    func yield(_ value: Element) {
        for continuation in subscribers.withLock({ Array($0.streams.values) }) { continuation.yield(value) }
    }

    var subscriberCount: Int { subscribers.withLock { $0.streams.count } }
}
