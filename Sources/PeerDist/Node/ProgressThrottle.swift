import Logging
import NIOCore
import PeerDistHashing
import PeerDistWire
import PeerDistStore

/// Lets progress through at most once per `interval`, remembering whether something was held
/// back since (and from which peer), so that the end can still be reported.
final class ProgressThrottle: Sendable {
    struct State {
        var lastAdmitted: ContinuousClock.Instant?
        var withheld: PeerAddress?
    }

    private let interval: Duration
    private let state = PThreadMutex(State())

    init(interval: Duration) {
        self.interval = interval
    }

    func admits(_ peer: PeerAddress, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in
            if let last = state.lastAdmitted, now - last < interval {
                state.withheld = peer
                return false
            }
            state.lastAdmitted = now
            state.withheld = nil
            return true
        }
    }

    /// The peer of the last update held back since the last one let through.
    var withheld: PeerAddress? { state.withLock { $0.withheld } }
}
