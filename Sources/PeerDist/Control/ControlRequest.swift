import PeerDistHashing
import PeerDistMirror

/// What the `peerdist` command asks a running node to do, one request per line on the node's
/// control socket (`control.sock` in its data directory, mode 0600). Only the node's owner can
/// reach the socket, so a request carries no authentication of its own.
///
/// On the socket a request is one JSON object whose `op` names the case and whose other keys are
/// its values (`{"op":"fetch","id":"…","output":"…"}`); a request that lacks a value its case
/// needs, or whose value does not parse, is refused when it is decoded, naming the field.
public enum ControlRequest: Sendable, Hashable {
    case status
    /// With an `audience` (contacts' fingerprints, display names or nicknames), private to them.
    case publish(path: String, version: ContentInformationVersion, audience: [String] = [])
    case fetch(FetchRequest)
    /// `fetch http://…` by a running node, which serves the blocks while it fetches them.
    case fetchURL(OriginFetchRequest)
    case peers
    case storeList
    case storeRemove(ContentID)
    case storeCollect
    case mirrorPublish(directory: String, classifier: String?, watch: Bool, audience: [String] = [])
    case mirrorFollow(name: MirrorName, directory: String)
    case mirrorStatus
    case people(PeopleRequest)
    /// Publishes a directory as an immutable snapshot.
    case publishTree(path: String)
    case fetchTree(TreeFetchRequest)
    /// The entries of a snapshot, without fetching its files.
    case listTree(id: SnapshotID, peers: [PeerAddress])

    /// A fetch of a snapshot, or of one file of it, into `output`.
    public struct TreeFetchRequest: Sendable, Hashable {
        public var reference: SnapshotReference
        public var peers: [PeerAddress]
        public var output: String
        public var replace: Bool

        public init(reference: SnapshotReference, peers: [PeerAddress] = [], output: String, replace: Bool = false) {
            self.reference = reference
            self.peers = peers
            self.output = output
            self.replace = replace
        }
    }
    /// The node's Mainline DHT: its state, items and peers (`peerdist dht`), and names.
    case dht(DHTControlRequest)

    /// A fetch of `id` into `output`, from `peers` or, when there are none, from whoever holds it.
    public struct FetchRequest: Sendable, Hashable {
        public var id: ContentID
        public var peers: [PeerAddress]
        public var output: String
        public var replace: Bool
        /// Bytes per second to receive at most.
        public var maximumRate: UInt64?
        /// Look for holders on the Mainline DHT at once, not only when the LAN has none.
        public var global: Bool

        public init(id: ContentID, peers: [PeerAddress] = [], output: String, replace: Bool = false, maximumRate: UInt64? = nil, global: Bool = false) {
            self.id = id
            self.peers = peers
            self.output = output
            self.replace = replace
            self.maximumRate = maximumRate
            self.global = global
        }
    }

    /// A fetch of `url` from its BranchCache origin and the peers into `output`.
    public struct OriginFetchRequest: Sendable, Hashable {
        public var url: OriginURL
        public var output: String
        public var replace: Bool
        /// The branch's hosted cache, asked beside the peers.
        public var hostedCache: PeerAddress?
        public var maximumRate: UInt64?

        public init(url: OriginURL, output: String, replace: Bool = false, hostedCache: PeerAddress? = nil, maximumRate: UInt64? = nil) {
            self.url = url
            self.output = output
            self.replace = replace
            self.hostedCache = hostedCache
            self.maximumRate = maximumRate
        }
    }

    /// The `op` each case travels as.
    public enum Operation: String, Codable, Sendable {
        case status, publish, fetch, peers
        case fetchURL = "fetch-url"
        case storeList = "store-ls"
        case storeRemove = "store-rm"
        case storeCollect = "store-gc"
        case mirrorPublish = "mirror-publish"
        case mirrorFollow = "mirror-follow"
        case mirrorStatus = "mirror-status"
        case people
        case publishTree = "publish-tree"
        case fetchTree = "fetch-tree"
        case listTree = "tree-ls"
        case dht
    }

    public var operation: Operation {
        switch self {
        case .status: .status
        case .publish: .publish
        case .fetch: .fetch
        case .fetchURL: .fetchURL
        case .peers: .peers
        case .storeList: .storeList
        case .storeRemove: .storeRemove
        case .storeCollect: .storeCollect
        case .mirrorPublish: .mirrorPublish
        case .mirrorFollow: .mirrorFollow
        case .mirrorStatus: .mirrorStatus
        case .people: .people
        case .publishTree: .publishTree
        case .fetchTree: .fetchTree
        case .listTree: .listTree
        case .dht: .dht
        }
    }
}

extension ControlRequest: Codable {
    enum CodingKeys: String, CodingKey {
        case op, path, id, peers, output, replace, classifier, watch, audience, request, url, global
        case hostedCache = "hosted_cache"
        case contentVersion = "content_version"
        case maximumRate = "max_download"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Operation.self, forKey: .op) {
        case .status: self = .status
        case .peers: self = .peers
        case .storeList: self = .storeList
        case .storeCollect: self = .storeCollect
        case .mirrorStatus: self = .mirrorStatus
        case .publish:
            let number = try container.decodeIfPresent(Int.self, forKey: .contentVersion) ?? 1
            guard let version = ContentInformationVersion(rawValue: number) else {
                throw DecodingError.dataCorruptedError(forKey: .contentVersion, in: container, debugDescription: "content version \(number) is not 1 or 2")
            }
            self = .publish(
                path: try container.decode(String.self, forKey: .path), version: version,
                audience: try container.decodeIfPresent([String].self, forKey: .audience) ?? [])
        case .publishTree:
            self = .publishTree(path: try container.decode(String.self, forKey: .path))
        case .fetchTree:
            let text = try container.decode(String.self, forKey: .id)
            guard let reference = SnapshotReference(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: "\(text) is not a snapshot ID")
            }
            self = .fetchTree(TreeFetchRequest(
                reference: reference, peers: try Self.peers(in: container), output: try container.decode(String.self, forKey: .output),
                replace: try container.decodeIfPresent(Bool.self, forKey: .replace) ?? false))
        case .listTree:
            let text = try container.decode(String.self, forKey: .id)
            guard let id = SnapshotID(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: "\(text) is not a snapshot ID")
            }
            self = .listTree(id: id, peers: try Self.peers(in: container))
        case .fetch:
            let peers = try Self.peers(in: container)
            self = .fetch(FetchRequest(
                id: try Self.contentID(in: container), peers: peers, output: try container.decode(String.self, forKey: .output),
                replace: try container.decodeIfPresent(Bool.self, forKey: .replace) ?? false,
                maximumRate: try container.decodeIfPresent(UInt64.self, forKey: .maximumRate),
                global: try container.decodeIfPresent(Bool.self, forKey: .global) ?? false))
        case .fetchURL:
            let text = try container.decode(String.self, forKey: .url)
            guard let url = OriginURL(text) else {
                throw DecodingError.dataCorruptedError(forKey: .url, in: container, debugDescription: "\(text) is not an http:// URL")
            }
            var hostedCache: PeerAddress?
            if let address = try container.decodeIfPresent(String.self, forKey: .hostedCache) {
                guard let parsed = PeerAddress(parsing: address) else {
                    throw DecodingError.dataCorruptedError(forKey: .hostedCache, in: container, debugDescription: "\(address) is not an address")
                }
                hostedCache = parsed
            }
            self = .fetchURL(OriginFetchRequest(
                url: url, output: try container.decode(String.self, forKey: .output),
                replace: try container.decodeIfPresent(Bool.self, forKey: .replace) ?? false, hostedCache: hostedCache,
                maximumRate: try container.decodeIfPresent(UInt64.self, forKey: .maximumRate)))
        case .storeRemove:
            self = .storeRemove(try Self.contentID(in: container))
        case .mirrorPublish:
            self = .mirrorPublish(
                directory: try container.decode(String.self, forKey: .path),
                classifier: try container.decodeIfPresent(String.self, forKey: .classifier),
                watch: try container.decodeIfPresent(Bool.self, forKey: .watch) ?? false,
                audience: try container.decodeIfPresent([String].self, forKey: .audience) ?? [])
        case .people:
            self = .people(try container.decode(PeopleRequest.self, forKey: .request))
        case .dht:
            self = .dht(try container.decode(DHTControlRequest.self, forKey: .request))
        case .mirrorFollow:
            let text = try container.decode(String.self, forKey: .id)
            let name: MirrorName
            do {
                name = try MirrorName(parsing: text)
            } catch {
                throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: "\(error)")
            }
            self = .mirrorFollow(name: name, directory: try container.decode(String.self, forKey: .path))
        }
    }

    private static func peers(in container: KeyedDecodingContainer<CodingKeys>) throws -> [PeerAddress] {
        try (container.decodeIfPresent([String].self, forKey: .peers) ?? []).map { text in
            guard let address = PeerAddress(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .peers, in: container, debugDescription: "\(text) is not a peer address")
            }
            return address
        }
    }

    private static func contentID(in container: KeyedDecodingContainer<CodingKeys>) throws -> ContentID {
        let text = try container.decode(String.self, forKey: .id)
        guard let id = ContentID(parsing: text) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: "\(text) is not a content ID")
        }
        return id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(operation, forKey: .op)
        switch self {
        case .status, .peers, .storeList, .storeCollect, .mirrorStatus:
            break
        case .publish(let path, let version, let audience):
            try container.encode(path, forKey: .path)
            try container.encode(version.rawValue, forKey: .contentVersion)
            if !audience.isEmpty { try container.encode(audience, forKey: .audience) }
        case .fetch(let fetch):
            try container.encode(fetch.id.hex, forKey: .id)
            if !fetch.peers.isEmpty { try container.encode(fetch.peers.map(\.description), forKey: .peers) }
            try container.encode(fetch.output, forKey: .output)
            try container.encode(fetch.replace, forKey: .replace)
            try container.encodeIfPresent(fetch.maximumRate, forKey: .maximumRate)
            if fetch.global { try container.encode(true, forKey: .global) }
        case .fetchURL(let fetch):
            try container.encode(fetch.url.description, forKey: .url)
            try container.encode(fetch.output, forKey: .output)
            try container.encode(fetch.replace, forKey: .replace)
            try container.encodeIfPresent(fetch.hostedCache?.description, forKey: .hostedCache)
            try container.encodeIfPresent(fetch.maximumRate, forKey: .maximumRate)
        case .storeRemove(let id):
            try container.encode(id.hex, forKey: .id)
        case .mirrorPublish(let directory, let classifier, let watch, let audience):
            try container.encode(directory, forKey: .path)
            try container.encodeIfPresent(classifier, forKey: .classifier)
            try container.encode(watch, forKey: .watch)
            if !audience.isEmpty { try container.encode(audience, forKey: .audience) }
        case .people(let request):
            try container.encode(request, forKey: .request)
        case .dht(let request):
            try container.encode(request, forKey: .request)
        case .mirrorFollow(let name, let directory):
            try container.encode(name.description, forKey: .id)
            try container.encode(directory, forKey: .path)
        case .publishTree(let path):
            try container.encode(path, forKey: .path)
        case .fetchTree(let fetch):
            try container.encode(fetch.reference.id.hex + (fetch.reference.path.map { "/" + $0 } ?? ""), forKey: .id)
            if !fetch.peers.isEmpty { try container.encode(fetch.peers.map(\.description), forKey: .peers) }
            try container.encode(fetch.output, forKey: .output)
            try container.encode(fetch.replace, forKey: .replace)
        case .listTree(let id, let peers):
            try container.encode(id.hex, forKey: .id)
            if !peers.isEmpty { try container.encode(peers.map(\.description), forKey: .peers) }
        }
    }
}
