import Foundation
import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistStore
import PeerDistMirror

/// The addresses a node listens on, once bound.
final class ListeningAddresses: Sendable {
    private let value = PThreadMutex<[String]>([])

    func append(_ address: String) { value.withLock { $0.append(address) } }
    var all: [String] { value.withLock { $0 } }
}
