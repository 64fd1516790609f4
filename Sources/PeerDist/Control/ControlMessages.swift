/// Requests and replies on a node's control socket (`control.sock` in its data directory, mode
/// 0600): one JSON object per line. Only the node's owner can reach it, so it carries no
/// authentication of its own.
public struct ControlRequest: Codable, Sendable {
    public enum Operation: String, Codable, Sendable {
        case status, publish, fetch, peers
        case storeList = "store-ls"
        case storeRemove = "store-rm"
        case storeCollect = "store-gc"
        case mirrorPublish = "mirror-publish"
        case mirrorFollow = "mirror-follow"
        case mirrorStatus = "mirror-status"
    }

    public var op: Operation
    public var path: String?
    public var contentVersion: Int?
    public var id: String?
    public var peers: [String]?
    public var output: String?
    public var replace: Bool?
    public var maximumRate: UInt64?
    /// `mirror publish`: the classifier, and whether to follow changes.
    public var classifier: String?
    public var watch: Bool?

    enum CodingKeys: String, CodingKey {
        case op, path, id, peers, output, replace, classifier, watch
        case contentVersion = "content_version"
        case maximumRate = "max_download"
    }

    public init(
        op: Operation, path: String? = nil, contentVersion: Int? = nil, id: String? = nil, peers: [String]? = nil, output: String? = nil,
        replace: Bool? = nil, maximumRate: UInt64? = nil, classifier: String? = nil, watch: Bool? = nil
    ) {
        self.classifier = classifier
        self.watch = watch
        self.maximumRate = maximumRate
        self.op = op
        self.path = path
        self.contentVersion = contentVersion
        self.id = id
        self.peers = peers
        self.output = output
        self.replace = replace
    }
}

/// One line of a reply. Most requests get one `result` or `error` line; `fetch` first streams
/// `progress` lines.
public struct ControlEvent: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case result, progress, error
    }

    public var event: Kind
    public var message: String?
    public var contentID: String?
    public var uri: String?
    public var path: String?
    public var heldBytes: UInt64?
    public var totalBytes: UInt64?
    public var receivedBytes: UInt64?
    public var peer: String?
    public var status: NodeStatus?
    public var entries: [StoreListing]?
    public var freedBytes: UInt64?
    public var rejectedBlocks: UInt64?
    public var peers: [PeerDirectory.Entry]?
    public var bytesByPeer: [String: UInt64]?
    public var mirrors: [MirrorStatus]?

    enum CodingKeys: String, CodingKey {
        case event, message, uri, path, peer, status, entries, peers, mirrors
        case rejectedBlocks = "rejected_blocks"
        case bytesByPeer = "bytes_by_peer"
        case contentID = "content_id"
        case heldBytes = "held_bytes"
        case totalBytes = "total_bytes"
        case receivedBytes = "received_bytes"
        case freedBytes = "freed_bytes"
    }

    public init(event: Kind) {
        self.event = event
    }

    public static func failure(_ message: String) -> ControlEvent {
        var event = ControlEvent(event: .error)
        event.message = message
        return event
    }
}

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
