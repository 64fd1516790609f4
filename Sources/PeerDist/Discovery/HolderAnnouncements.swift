import Synchronization
import PeerDistHashing

/// What a node announces on the LAN as it begins to hold content, and what it hears others
/// announce: a fetcher that starts together with others learns of them at once, without
/// waiting for its next query, and can trade blocks with them from the start.
///
/// Announcements are unsolicited `Have` messages to the discovery group. They carry the
/// discovery key, never the content ID, like the answers to queries.
public final class HolderAnnouncements: Sendable {
    /// Tags this node's own announcements, which multicast delivers back to it.
    let instance = UInt64.random(in: 1 ... .max)
    let outgoing: AsyncStream<HashValue>
    private let continuation: AsyncStream<HashValue>.Continuation
    private let heard = PThreadMutex<[HashValue: [PeerAddress]]>([:])
    /// Announcements heard per key, repeated ones included: a mirror's holders announce each
    /// new version, and followers watch this count to learn of it.
    private let counts = PThreadMutex<[HashValue: Int]>([:])
    /// Bounds on what is remembered of strangers' announcements.
    static let maximumKeys = 1024
    static let maximumHoldersPerKey = 64

    public init() {
        (outgoing, continuation) = AsyncStream.makeStream(of: HashValue.self, bufferingPolicy: .bufferingNewest(64))
    }

    /// Announces that this node holds (some of) the content with `discoveryKey`.
    public func announce(_ discoveryKey: HashValue) {
        continuation.yield(discoveryKey)
    }

    func heard(_ discoveryKey: HashValue, from holder: PeerAddress) {
        counts.withLock { counts in
            if counts[discoveryKey] == nil, counts.count >= Self.maximumKeys, let any = counts.keys.first { counts[any] = nil }
            counts[discoveryKey, default: 0] += 1
        }
        heard.withLock { heard in
            if heard[discoveryKey] == nil, heard.count >= Self.maximumKeys, let any = heard.keys.first { heard[any] = nil }
            var holders = heard[discoveryKey, default: []]
            guard !holders.contains(holder) else { return }
            if holders.count >= Self.maximumHoldersPerKey { holders.removeFirst() }
            holders.append(holder)
            heard[discoveryKey] = holders
        }
    }

    /// How many announcements of `discoveryKey` were heard so far.
    public func announcementCount(of discoveryKey: HashValue) -> Int {
        counts.withLock { $0[discoveryKey] ?? 0 }
    }

    /// The holders heard announcing the content with `discoveryKey`.
    public func holders(of discoveryKey: HashValue) -> [PeerAddress] {
        heard.withLock { $0[discoveryKey] ?? [] }
    }
}
