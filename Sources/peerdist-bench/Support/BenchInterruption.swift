import Foundation
import Synchronization
import PeerDistCommandSupport

/// Ctrl-C or SIGTERM during a long benchmark, turned into an error at the next check, so that
/// the benchmark unwinds through its clean-up (namespaces, daemons, files in /dev/shm) instead
/// of exiting with them left behind.
final class BenchInterruption: Sendable {
    static let shared = BenchInterruption()

    private let interrupted = Atomic<Bool>(false)

    /// Catches SIGINT and SIGTERM from now on; returns the handler, to be kept alive while it matters.
    func catchSignals() -> InterruptionHandler {
        InterruptionHandler { [self] in interrupted.store(true, ordering: .relaxed) }
    }

    func check() throws {
        if interrupted.load(ordering: .relaxed) { throw BenchInterrupted() }
    }
}

/// Thrown by `BenchInterruption.check`; never caught as an ordinary failure of one method.
struct BenchInterrupted: Error, CustomStringConvertible {
    var description: String { "interrupted; everything the benchmark started has been removed" }
}
