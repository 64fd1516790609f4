/// A KRPC message (BEP 5): a query, its response, or an error, tied together by a transaction ID.
///
/// Covers what PeerDist speaks: `ping`, `find_node`, `get_peers`, `announce_peer` (BEP 5, with
/// BEP 32's `want`/`nodes6`), `get` and `put` (BEP 44), the `ip` field of BEP 42 and the `ro`
/// flag of BEP 43. Decoding is in `KRPCMessage+Decoding.swift`; what does not fit is refused
/// with a `KRPCError`.
public struct KRPCMessage: Sendable, Hashable {
    /// `t`: chosen by the querier, echoed by the responder; at most 32 bytes here.
    public var transactionID: [UInt8]
    public var body: Body
    /// `v`: the sender's client and version (4 bytes by convention), when it says.
    public var clientVersion: [UInt8]?
    /// `ip` (BEP 42): in a response, the querier's address as the responder saw it.
    public var observedAddress: DHTEndpoint?
    /// `ro` (BEP 43): the querier cannot be queried back, so must not enter routing tables.
    public var readOnly: Bool

    public enum Body: Sendable, Hashable {
        case query(KRPCQuery)
        case response(KRPCResponse)
        case error(code: Int64, message: String)
    }

    public init(transactionID: [UInt8], body: Body, clientVersion: [UInt8]? = nil, observedAddress: DHTEndpoint? = nil, readOnly: Bool = false) {
        self.transactionID = transactionID
        self.body = body
        self.clientVersion = clientVersion
        self.observedAddress = observedAddress
        self.readOnly = readOnly
    }

    /// BEP 5's error codes.
    public enum ErrorCode {
        public static let generic: Int64 = 201
        public static let server: Int64 = 202
        public static let protocolError: Int64 = 203
        public static let methodUnknown: Int64 = 204
        /// BEP 44.
        public static let valueTooLarge: Int64 = 205
        public static let invalidSignature: Int64 = 206
        public static let saltTooLarge: Int64 = 207
        public static let casMismatch: Int64 = 301
        public static let sequenceNotNewer: Int64 = 302
    }
}

/// Which address families a querier wants nodes of (BEP 32 `want`).
public struct WantedFamilies: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let ipv4 = WantedFamilies(rawValue: 1)
    public static let ipv6 = WantedFamilies(rawValue: 2)
}

/// A query and its arguments (`q` and `a`).
public enum KRPCQuery: Sendable, Hashable {
    case ping(id: NodeID)
    case findNode(id: NodeID, target: NodeID, want: WantedFamilies)
    case getPeers(id: NodeID, infoHash: NodeID, want: WantedFamilies)
    case announcePeer(id: NodeID, infoHash: NodeID, port: UInt16, token: [UInt8], impliedPort: Bool)
    /// BEP 44 `get`: `seq` asks for the value only if the stored one is newer.
    case get(id: NodeID, target: NodeID, seq: Int64?, want: WantedFamilies)
    case put(id: NodeID, token: [UInt8], item: PutArguments)
    /// A method PeerDist does not know: answered with error 204, as BEP 5 says.
    case unknown(method: [UInt8], id: NodeID)

    public var senderID: NodeID {
        switch self {
        case .ping(let id), .findNode(let id, _, _), .getPeers(let id, _, _), .announcePeer(let id, _, _, _, _), .get(let id, _, _, _),
            .put(let id, _, _), .unknown(_, let id):
            return id
        }
    }

    public var method: String {
        switch self {
        case .ping: "ping"
        case .findNode: "find_node"
        case .getPeers: "get_peers"
        case .announcePeer: "announce_peer"
        case .get: "get"
        case .put: "put"
        case .unknown(let method, _): String(decoding: method, as: UTF8.self)
        }
    }
}

/// BEP 44 `put` arguments: an immutable item is `value` alone; a mutable one adds the key,
/// signature and sequence number, and optionally a salt and a compare-and-swap sequence.
public struct PutArguments: Sendable, Hashable {
    public var value: Bencode
    public var key: [UInt8]?
    public var signature: [UInt8]?
    public var seq: Int64?
    public var salt: [UInt8]?
    public var cas: Int64?

    public init(value: Bencode, key: [UInt8]? = nil, signature: [UInt8]? = nil, seq: Int64? = nil, salt: [UInt8]? = nil, cas: Int64? = nil) {
        self.value = value
        self.key = key
        self.signature = signature
        self.seq = seq
        self.salt = salt
        self.cas = cas
    }
}

/// The fields of a response (`r`); which are present depends on the query it answers.
public struct KRPCResponse: Sendable, Hashable {
    public var id: NodeID
    public var nodes: [DHTNodeInfo] = []
    public var nodes6: [DHTNodeInfo] = []
    /// `values` of `get_peers`: peers of the info-hash, compact.
    public var values: [DHTEndpoint] = []
    public var token: [UInt8]?
    /// BEP 44 `get`: the item, and for a mutable one its key, signature and sequence number.
    public var value: Bencode?
    public var key: [UInt8]?
    public var signature: [UInt8]?
    public var seq: Int64?

    public init(id: NodeID) {
        self.id = id
    }
}
