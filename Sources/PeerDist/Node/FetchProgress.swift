import Logging
import NIOCore
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistStore

/// How a fetch is going, for progress bars and `--json` events.
public struct FetchProgress: Sendable {
    public var heldBytes: UInt64
    public var totalBytes: UInt64
    /// Block bytes received from peers in this run.
    public var receivedBytes: UInt64
    public var peer: String?
    /// Block bytes received from each peer in this run.
    public var bytesByPeer: [String: UInt64] = [:]
}
