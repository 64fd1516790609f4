import Crypto
import NIOCore
import PeerDistDHT
import PeerDistHashing
import PeerDistMirror
import PeerDistWire

/// A peer name, as PNRP spells them: `AUTHORITY.CLASSIFIER`.
///
/// A secured name's authority is the one mirror names use (`MirrorName.authority(of:)`, 40 hex
/// digits from the owner's Ed25519 key), so only the owner can sign its records. The authority
/// `0` makes an unsecured name, which anyone may register and which is always shown as such.
/// Classifiers are PNRP's length (150 characters) in mirror names' alphabet.
public struct PeerName: Hashable, Sendable, CustomStringConvertible {
    public static let maximumClassifierLength = 150
    public static let maximumPayloadBytes = 4096
    public static let maximumCommentBytes = 255
    public static let unsecuredAuthority = "0"

    /// 40 lower-case hex digits, or "0".
    public let authority: String
    public let classifier: String

    public var isSecured: Bool { authority != Self.unsecuredAuthority }
    public var description: String { "\(authority).\(classifier)" }

    /// `owner`'s secured name `classifier`.
    public init(owner: PeerKey, classifier: String) throws(NodeError) {
        try Self.check(classifier, in: classifier)
        self.authority = MirrorName.authority(of: owner)
        self.classifier = classifier
    }

    /// Parses `AUTHORITY.CLASSIFIER` or `0.CLASSIFIER`, split at the first `.`.
    public init(parsing text: String) throws(NodeError) {
        guard let dot = text.firstIndex(of: ".") else {
            throw NodeError(.invalidState, "'\(text)' is not a peer name: it needs AUTHORITY.CLASSIFIER (or 0.CLASSIFIER for an unsecured name)")
        }
        let authority = text[..<dot].lowercased()
        let classifier = String(text[text.index(after: dot)...])
        guard authority == Self.unsecuredAuthority
            || (authority.count == MirrorName.authorityHexDigits && authority.allSatisfy { $0.isHexDigit })
        else {
            throw NodeError(.invalidState, "'\(text)' is not a peer name: the authority must be \(MirrorName.authorityHexDigits) hex digits or 0")
        }
        try Self.check(classifier, in: text)
        self.authority = authority
        self.classifier = classifier
    }

    private static func check(_ classifier: String, in text: String) throws(NodeError) {
        if let problem = MirrorName.classifierProblem(classifier, maximumLength: maximumClassifierLength) {
            throw NodeError(.invalidState, "'\(text)' is not a peer name: \(problem)")
        }
    }

    /// Whether `key` owns this (secured) name.
    public func isAuthority(of key: PeerKey) -> Bool {
        isSecured && MirrorName.authority(of: key) == authority
    }

    /// The BEP 44 salt of the name's record under its owner's key: the classifier, or its
    /// SHA-256 when longer than BEP 44's 64-byte salts.
    public var salt: [UInt8] {
        let bytes = Array(classifier.utf8)
        return bytes.count <= KRPCMessage.maximumSaltLength ? bytes : Array(SHA256.hash(data: bytes))
    }

    /// What a link query names the name by (`DiscoveryMessage.whoIs`): HMAC-SHA-256 of the name
    /// under a label, so an eavesdropper on the link sees no name it could read.
    public var linkKey: HashValue {
        HashValue(HMAC<SHA256>.authenticationCode(for: Array(description.utf8), using: SymmetricKey(data: Array("PeerDist name link key v1".utf8))))
    }

    /// The info-hash the nodes registering the name announce themselves under: for a secured
    /// name the authority's 20 bytes (a resolver that knows only the name finds the owner's nodes
    /// there, learns the owner's key from the handshake and checks it against the authority);
    /// for an unsecured one, SHA-1 of the name under a label.
    public var locatorKey: NodeID {
        if isSecured, let bytes = Hex.decode(authority), let id = NodeID(bytes) { return id }
        return NodeID.sha1(Array("PeerDist unsecured name v1".utf8) + Array(classifier.utf8))
    }
}

/// What a name resolves to: the record its owner (or, for an unsecured name, a registrant)
/// published.
public struct NameRecord: Sendable, Hashable {
    public var endpoints: [PeerAddress]
    public var payload: [UInt8]
    public var comment: String

    public init(endpoints: [PeerAddress], payload: [UInt8] = [], comment: String = "") {
        self.endpoints = endpoints
        self.payload = payload
        self.comment = comment
    }

    /// The BEP 44 value: `{"c": comment, "e": [compact endpoints], "p": payload}`; link-local
    /// endpoints, of no use off the link, are left out.
    public var bencode: Bencode {
        var compact: [Bencode] = []
        for endpoint in endpoints {
            guard !endpoint.host.contains("%"), !endpoint.host.lowercased().hasPrefix("fe80"),
                  let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port), let dht = DHTEndpoint(address)
            else { continue }
            compact.append(.bytes(dht.compact))
        }
        var value: Bencode = ["e": .list(compact)]
        if case .dictionary(var entries) = value {
            if !payload.isEmpty { entries[Array("p".utf8)] = .bytes(payload) }
            if !comment.isEmpty { entries[Array("c".utf8)] = .string(comment) }
            value = .dictionary(entries)
        }
        return value
    }

    /// The record as the link carries it: the BEP 44 value with the name under `n`, so that an
    /// answer cannot be replayed for another name.
    func linkRecord(for name: PeerName) -> [UInt8] {
        guard case .dictionary(var entries) = bencode else { return [] }
        entries[Array("n".utf8)] = .string(name.description)
        return Bencode.dictionary(entries).encoded
    }

    /// The record in a link answer, if it is for `name`.
    init?(linkRecord bytes: [UInt8], for name: PeerName) {
        var limits = BencodeDecoder.Limits()
        limits.maximumStringLength = PeerName.maximumPayloadBytes
        guard let value = try? BencodeDecoder(limits: limits).decode(bytes), value["n"]?.bytesValue == Array(name.description.utf8) else { return nil }
        self.init(bencode: value)
    }

    public init?(bencode value: Bencode) {
        guard let list = value["e"]?.listValue else { return nil }
        endpoints = list.compactMap { $0.bytesValue.flatMap { DHTEndpoint(compact: $0) } }.map { PeerAddress(host: $0.host, port: Int($0.port)) }
        payload = value["p"]?.bytesValue ?? []
        comment = value["c"]?.bytesValue.map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
