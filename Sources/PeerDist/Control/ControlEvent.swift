/// One line of a reply on the control socket. Most requests get one `result` or `error` line;
/// `fetch` first streams `progress` lines.
public struct ControlEvent: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case result, progress, error
        /// One line of a stream that lasts: `peerdist events`.
        case update
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
    public var people: PeopleReply?
    /// A `fetch-url` reply: the content's size, its bytes from peers and from the origin, and
    /// whether the origin handed out Content Information.
    public var size: UInt64?
    public var fromPeers: UInt64?
    public var fromOrigin: UInt64?
    public var peerDist: Bool?
    /// A snapshot's entries (`fetch ID --list`).
    public var tree: [TreeListingEntry]?
    /// What a published snapshot holds (`publish DIR`).
    public var treeSummary: TreeSummary?
    public var dht: DHTReply?

    enum CodingKeys: String, CodingKey {
        case event, message, uri, path, peer, status, entries, peers, mirrors, people, size, tree, dht
        case fromPeers = "from_peers"
        case fromOrigin = "from_origin"
        case peerDist = "peerdist"
        case treeSummary = "tree_summary"
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
