import PeerDistHashing
import Synchronization

/// MS-PCCRD's reply damping (3.2.5.2.1; Windows 7's default n = 10): a node that probed for a
/// segment itself remembers how many holders answered and how many of them hold it whole. When
/// at least n answered and at least n hold it whole, the link is well served and the node stays
/// silent for that segment; when n answered but fewer hold it whole, it answers one time in three.
/// Otherwise it always answers. The back-off before answering (1–65 ms) is the responder's.
final class PCCRDDamping: Sendable {
    static let threshold = 10
    static let answerProbability = 0.33
    /// Segments remembered at most; the oldest half is forgotten past it.
    static let maximumSegments = 65_536

    private let counts = PThreadMutex<(order: [HashValue], replies: [HashValue: (all: Int, full: Int)])>(([], [:]))

    /// What the replies to this node's own probe said of a segment.
    func record(_ segmentID: HashValue, replies: Int, fullReplies: Int) {
        counts.withLock { state in
            if state.replies[segmentID] == nil {
                state.order.append(segmentID)
                if state.order.count > Self.maximumSegments {
                    let forgotten = state.order.prefix(Self.maximumSegments / 2)
                    for id in forgotten { state.replies[id] = nil }
                    state.order.removeFirst(forgotten.count)
                }
            }
            state.replies[segmentID] = (replies, fullReplies)
        }
    }

    /// Whether to answer a probe for the segment now.
    func shouldAnswer(_ segmentID: HashValue, random: () -> Double = { Double.random(in: 0..<1) }) -> Bool {
        guard let seen = counts.withLock({ $0.replies[segmentID] }), seen.all >= Self.threshold else { return true }
        if seen.full >= Self.threshold { return false }
        return random() < Self.answerProbability
    }
}
