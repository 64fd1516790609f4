import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a call of `action` (once per signal), instead of an exit that
/// would skip clean-up.
package final class InterruptionHandler {
    private let sources: [any DispatchSourceSignal]

    package init(_ action: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
    }

    package func cancel() {
        sources.forEach { $0.cancel() }
    }
}
