import PeerDistHashing

/// Running totals a node reports in `status`, and tests assert on.
public final class NodeCounters: Sendable {
    private let values = PThreadMutex<Snapshot>(Snapshot())

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
        /// Mirror chunks sent to and received from peers, and their bytes (uncompressed).
        public var chunksSent: UInt64 = 0
        public var chunkBytesSent: UInt64 = 0
        public var chunksReceived: UInt64 = 0
        public var chunkBytesReceived: UInt64 = 0
        /// Mirror chunks sent and received as deltas from a chunk the follower held (counted
        /// among the chunks above too).
        public var chunkDeltasSent: UInt64 = 0
        public var chunkDeltasReceived: UInt64 = 0
        /// Bytes of the chunk replies' payloads as they arrived: compressed, or deltas.
        public var chunkPayloadBytesReceived: UInt64 = 0
        /// Chunks that did not match their hash and were thrown away.
        public var chunksRejected: UInt64 = 0
        /// Bytes of mirror manifests (sealed roots and pages) received.
        public var manifestBytesReceived: UInt64 = 0

        enum CodingKeys: String, CodingKey {
            case blockBytesReceived = "block_bytes_received"
            case blockBytesSent = "block_bytes_sent"
            case blocksReceived = "blocks_received"
            case blocksSent = "blocks_sent"
            case blocksRejected = "blocks_rejected"
            case blocksDuplicated = "blocks_duplicated"
            case connectionsAccepted = "connections_accepted"
            case connectionsDropped = "connections_dropped"
            case chunksSent = "chunks_sent"
            case chunkBytesSent = "chunk_bytes_sent"
            case chunksReceived = "chunks_received"
            case chunkBytesReceived = "chunk_bytes_received"
            case chunkDeltasSent = "chunk_deltas_sent"
            case chunkDeltasReceived = "chunk_deltas_received"
            case chunkPayloadBytesReceived = "chunk_payload_bytes_received"
            case chunksRejected = "chunks_rejected"
            case manifestBytesReceived = "manifest_bytes_received"
        }
    }

    public init() {}

    public var snapshot: Snapshot { values.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) {
        values.withLock { body(&$0) }
    }
}
