import PeerDistHashing
import Synchronization

/// Keeps a flow of bytes under a rate, shared by every connection that draws on it: each caller
/// reserves the time its bytes take at the rate and waits until its turn, so connections share
/// the rate in the order they ask (fairly) and the total never exceeds it.
public final class RateLimiter: Sendable {
    public let bytesPerSecond: UInt64
    /// When the bytes reserved so far will have gone out at the rate.
    private let nextFree = PThreadMutex<ContinuousClock.Instant?>(nil)

    public init(bytesPerSecond: UInt64) {
        precondition(bytesPerSecond > 0, "a rate limit is positive")
        self.bytesPerSecond = bytesPerSecond
    }

    /// How long to wait before sending `bytes` more, reserving their share of the rate.
    public func reserve(_ bytes: Int, now: ContinuousClock.Instant = .now) -> Duration {
        let cost = Duration.seconds(Double(bytes) / Double(bytesPerSecond))
        return nextFree.withLock { nextFree in
            // Idle time is not saved up: a long pause does not buy a burst.
            let start = max(now, nextFree ?? now)
            nextFree = start + cost
            return start - now
        }
    }

    /// Waits for `bytes` worth of the rate.
    public func wait(for bytes: Int) async throws {
        let delay = reserve(bytes)
        if delay > .zero { try await Task.sleep(for: delay) }
    }
}
