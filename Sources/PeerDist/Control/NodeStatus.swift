/// What `peerdist status` shows.
public struct NodeStatus: Codable, Sendable {
    public var fingerprint: String
    public var publicKey: String
    public var dataDirectory: String
    public var listening: [String]
    public var published: [StoreListing]
    public var cached: [StoreListing]
    public var transfers: [TransferStatus]
    public var counters: NodeCounters.Snapshot

    enum CodingKeys: String, CodingKey {
        case fingerprint, listening, published, cached, transfers, counters
        case publicKey = "public_key"
        case dataDirectory = "data_directory"
    }
}

/// One content in the store, as listed by `status` and `store ls`.
public struct StoreListing: Codable, Sendable {
    public var contentID: String
    public var uri: String
    public var kind: String
    public var complete: Bool
    public var size: UInt64
    public var heldBytes: UInt64
    public var path: String?
    public var stale: Bool?

    enum CodingKeys: String, CodingKey {
        case uri, kind, complete, size, path, stale
        case contentID = "content_id"
        case heldBytes = "held_bytes"
    }
}

/// A fetch under way in the node.
public struct TransferStatus: Codable, Sendable {
    public var contentID: String
    public var heldBytes: UInt64
    public var totalBytes: UInt64
    public var peer: String?
    /// The blocks held, as hex of bits: block `n` in bit `n % 8` of byte `n / 8`.
    public var heldBlocks: String?

    enum CodingKeys: String, CodingKey {
        case peer
        case contentID = "content_id"
        case heldBytes = "held_bytes"
        case totalBytes = "total_bytes"
        case heldBlocks = "held_blocks"
    }
}
