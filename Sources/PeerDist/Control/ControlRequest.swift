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
    case peers
    case storeList
    case storeRemove(ContentID)
    case storeCollect
    case mirrorPublish(directory: String, classifier: String?, watch: Bool, audience: [String] = [])
    case mirrorFollow(name: MirrorName, directory: String)
    case mirrorStatus
    case people(PeopleRequest)
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

    /// The `op` each case travels as.
    public enum Operation: String, Codable, Sendable {
        case status, publish, fetch, peers
        case storeList = "store-ls"
        case storeRemove = "store-rm"
        case storeCollect = "store-gc"
        case mirrorPublish = "mirror-publish"
        case mirrorFollow = "mirror-follow"
        case mirrorStatus = "mirror-status"
        case people
        case dht
    }

    public var operation: Operation {
        switch self {
        case .status: .status
        case .publish: .publish
        case .fetch: .fetch
        case .peers: .peers
        case .storeList: .storeList
        case .storeRemove: .storeRemove
        case .storeCollect: .storeCollect
        case .mirrorPublish: .mirrorPublish
        case .mirrorFollow: .mirrorFollow
        case .mirrorStatus: .mirrorStatus
        case .people: .people
        case .dht: .dht
        }
    }
}

extension ControlRequest: Codable {
    enum CodingKeys: String, CodingKey {
        case op, path, id, peers, output, replace, classifier, watch, audience, request, global
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
        case .fetch:
            let peers = try (container.decodeIfPresent([String].self, forKey: .peers) ?? []).map { text in
                guard let address = PeerAddress(parsing: text) else {
                    throw DecodingError.dataCorruptedError(forKey: .peers, in: container, debugDescription: "\(text) is not a peer address")
                }
                return address
            }
            self = .fetch(FetchRequest(
                id: try Self.contentID(in: container), peers: peers, output: try container.decode(String.self, forKey: .output),
                replace: try container.decodeIfPresent(Bool.self, forKey: .replace) ?? false,
                maximumRate: try container.decodeIfPresent(UInt64.self, forKey: .maximumRate),
                global: try container.decodeIfPresent(Bool.self, forKey: .global) ?? false))
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
        }
    }
}
