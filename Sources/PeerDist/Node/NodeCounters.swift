import Synchronization

/// Running totals a node reports in `status`, and tests assert on.
public final class NodeCounters: Sendable {
    private let values = Mutex<Snapshot>(Snapshot())

    public struct Snapshot: Sendable, Codable, Equatable {
        /// Block bytes received from peers (after opening, before verification), including rejected ones.
        public var blockBytesReceived: UInt64 = 0
        /// Block bytes sent to peers (plaintext size).
        public var blockBytesSent: UInt64 = 0
        public var blocksReceived: UInt64 = 0
        public var blocksSent: UInt64 = 0
        /// Blocks that failed verification and were thrown away.
        public var blocksRejected: UInt64 = 0
        /// Blocks that arrived after another peer's copy (the endgame asks twice).
        public var blocksDuplicated: UInt64 = 0
        public var connectionsAccepted: UInt64 = 0
        public var connectionsDropped: UInt64 = 0

        enum CodingKeys: String, CodingKey {
            case blockBytesReceived = "block_bytes_received"
            case blockBytesSent = "block_bytes_sent"
            case blocksReceived = "blocks_received"
            case blocksSent = "blocks_sent"
            case blocksRejected = "blocks_rejected"
            case blocksDuplicated = "blocks_duplicated"
            case connectionsAccepted = "connections_accepted"
            case connectionsDropped = "connections_dropped"
        }
    }

    public init() {}

    public var snapshot: Snapshot { values.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) {
        values.withLock { body(&$0) }
    }
}
