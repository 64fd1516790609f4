import Logging
import NIOCore
import PeerDistHashing
import PeerDistWire
import PeerDistStore

/// Closes a connection that has been silent for too long.
final class Watchdog: Sendable {
    private let lastActivity = PThreadMutex<ContinuousClock.Instant>(.now)
    private let finished = PThreadMutex(false)
    let timeout: Duration

    init(timeout: Duration) {
        self.timeout = timeout
    }

    func touch() { lastActivity.withLock { $0 = .now } }
    func finish() { finished.withLock { $0 = true } }

    func run(onStall: () async -> Void) async throws {
        while !finished.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(250))
            if ContinuousClock.now - lastActivity.withLock({ $0 }) > timeout {
                await onStall()
                throw NodeError(.unreachable, "the peer stopped sending for \(timeout)")
            }
        }
    }
}
