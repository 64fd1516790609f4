import Foundation
import PeerDistHashing

/// A BranchCache discovery Probe (MS-PCCRD 2.2.2.1): "who on this link holds these segments?",
/// read from one SOAP 1.2 datagram that anyone on the LAN may have sent.
///
/// ```
/// Envelope (soap)
///   Header: To = urn:schemas-xmlsoap-org:ws:2005:04:discovery, Action = …/discovery/Probe, MessageID
///   Body/Probe (wsd)
///     Types   PeerDist:PeerDistData                 | PeerDist:PeerDistDataV2
///     Scopes  upper-case hex HoHoDk, space-separated | base64(IdSize(2, BE) Count(1) Count × HoHoDk)
/// ```
/// Names are matched by namespace, never by prefix: clients choose their own prefixes. The
/// reader trusts nothing in the datagram: its size, depth, element count and number of scopes
/// are capped, and anything else than a well-formed PeerDist Probe is refused with the reason.
public struct WSDiscoveryProbe: Hashable, Sendable {
    public enum Version: Hashable, Sendable {
        /// Segment IDs as hex strings, matched exactly (`strcmp0`); answered with block counts.
        case v1
        /// Segment IDs packed in base64, with Microsoft's own matching rule.
        case v2
    }

    /// One probed segment.
    public struct Scope: Hashable, Sendable {
        public var segmentID: HashValue
        /// The scope as the prober wrote it (version 1), to be echoed verbatim: clients match
        /// replies to their requests by exact string comparison. Upper-case hex for version 2.
        public var text: String
    }

    /// The Probe's `wsa:MessageID`, echoed as the reply's `wsa:RelatesTo`. Usually
    /// `urn:uuid:…`, but taken as an opaque URI: some clients send a bare UUID.
    public var messageID: String
    public var version: Version
    /// The probed segments, in the prober's order, duplicates removed.
    public var scopes: [Scope]

    /// Above any probe a client would send, and the largest a UDP datagram can be.
    public static let maximumDatagramBytes = 64 * 1024
    /// A probe lists the segments a client is about to fetch; more than this is not a probe we answer.
    public static let maximumScopes = 256
    static let maximumMessageIDLength = 256
    /// Version 1 segment IDs: SHA-256, SHA-384 or SHA-512 sized. Version 2 IDs are always 32 bytes.
    static let version1IDSizes: Set<Int> = [32, 48, 64]
    static let version2IDSize = 32

    public init(messageID: String, version: Version, scopes: [Scope]) {
        self.messageID = messageID
        self.version = version
        self.scopes = scopes
    }

    /// `nil` for anything that is not a well-formed PeerDist Probe. Datagrams on the discovery
    /// port come from every WS-Discovery speaker on the LAN; those are dropped, never answered.
    public init?(datagram: some Collection<UInt8>) {
        guard let probe = try? Self(parsing: datagram) else { return nil }
        self = probe
    }

    /// Reads a Probe, or says what is wrong with the datagram.
    public init(parsing datagram: some Collection<UInt8>) throws(WSDiscoveryProbeError) {
        guard datagram.count <= Self.maximumDatagramBytes else { throw .tooLarge(bytes: datagram.count) }
        let envelope: XMLReader.Element
        do {
            envelope = try XMLReader.read(datagram, limits: XMLReader.Limits(maximumBytes: Self.maximumDatagramBytes))
        } catch {
            throw .malformedXML(error.description)
        }
        guard envelope.name == .init(namespace: PCCRD.Namespace.soap, local: "Envelope") else { throw .notSOAPEnvelope }
        let header = try Self.only(envelope.children(PCCRD.Namespace.soap, "Header"), "soap:Header")
        let body = try Self.only(envelope.children(PCCRD.Namespace.soap, "Body"), "soap:Body")

        let action = try Self.only(header.children(PCCRD.Namespace.addressing, "Action"), "wsa:Action").trimmedText
        guard action == PCCRD.Action.probe else { throw .notProbe(action: String(action.prefix(100))) }
        // A multicast Probe is addressed to the discovery URN; anything else is meant for someone else.
        let to = header.children(PCCRD.Namespace.addressing, "To")
        guard to.count <= 1 else { throw .repeatedElement("wsa:To") }
        if let destination = to.first?.trimmedText, destination != PCCRD.discoveryDestination {
            throw .wrongDestination(String(destination.prefix(100)))
        }
        messageID = try Self.only(header.children(PCCRD.Namespace.addressing, "MessageID"), "wsa:MessageID").trimmedText
        guard (1...Self.maximumMessageIDLength).contains(messageID.utf8.count),
              messageID.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { throw .invalidMessageID }

        // The Body holds the Probe and nothing else.
        let probe = try Self.only(body.children(PCCRD.Namespace.discovery, "Probe"), "wsd:Probe")
        guard body.children.count == 1 else { throw .unexpectedElement("soap:Body holds more than the Probe") }
        let types = try Self.only(probe.children(PCCRD.Namespace.discovery, "Types"), "wsd:Types")
        version = try Self.version(of: types)
        let scopesElement = try Self.only(probe.children(PCCRD.Namespace.discovery, "Scopes"), "wsd:Scopes")
        let matchBy = scopesElement.attributes[.init(namespace: "", local: "MatchBy")]
        switch version {
        case .v1:
            // strcmp0 as the spec says; an absent MatchBy (WS-Discovery's default, RFC 3986
            // comparison) compares these plain hex strings the same way, so it is accepted too.
            guard matchBy == nil || matchBy == PCCRD.MatchRule.version1 else { throw .wrongMatchRule(String((matchBy ?? "").prefix(100))) }
            scopes = try Self.version1Scopes(scopesElement.text)
        case .v2:
            guard matchBy == PCCRD.MatchRule.version2 else { throw .wrongMatchRule(String((matchBy ?? "").prefix(100))) }
            scopes = try Self.version2Scopes(scopesElement.trimmedText)
        }
    }

    /// The one element of a kind; zero or several is a malformed probe.
    private static func only(_ elements: [XMLReader.Element], _ name: String) throws(WSDiscoveryProbeError) -> XMLReader.Element {
        guard let first = elements.first else { throw .missingElement(name) }
        guard elements.count == 1 else { throw .repeatedElement(name) }
        return first
    }

    /// Every QName listed must be the same PeerDist type: WS-Discovery matches a target only when
    /// it has all the probed types, and a node is only a PeerDist data holder.
    private static func version(of types: XMLReader.Element) throws(WSDiscoveryProbeError) -> Version {
        let names = types.text.split(whereSeparator: \.isXMLSpace)
        var version: Version?
        for qualifiedName in names {
            let found: Version
            switch types.resolve(qualifiedName: qualifiedName) {
            case XMLReader.Element.Name(namespace: PCCRD.Namespace.peerDist, local: "PeerDistData"): found = .v1
            case XMLReader.Element.Name(namespace: PCCRD.Namespace.peerDist, local: "PeerDistDataV2"): found = .v2
            default: throw .notPeerDist(types: String(types.trimmedText.prefix(100)))
            }
            guard version == nil || version == found else { throw .notPeerDist(types: String(types.trimmedText.prefix(100))) }
            version = found
        }
        guard let version else { throw .notPeerDist(types: "") }
        return version
    }

    /// Hex segment IDs separated by whitespace. Either case is read (Windows sends upper case);
    /// the text is kept as sent for the reply.
    static func version1Scopes(_ text: String) throws(WSDiscoveryProbeError) -> [Scope] {
        var scopes: [Scope] = []
        var seen = Set<HashValue>()
        for item in text.split(whereSeparator: \.isXMLSpace) {
            guard scopes.count < maximumScopes else { throw .tooManyScopes }
            guard version1IDSizes.contains(item.utf8.count / 2), let id = HashValue(hex: item) else {
                throw .malformedScope(String(item.prefix(130)))
            }
            if seen.insert(id).inserted { scopes.append(Scope(segmentID: id, text: String(item))) }
        }
        guard !scopes.isEmpty else { throw .emptyScopes }
        return scopes
    }

    /// `base64(IdSize(2, BE) ‖ Count(1) ‖ Count × ID)`; lengths are checked, never trusted.
    static func version2Scopes(_ text: String) throws(WSDiscoveryProbeError) -> [Scope] {
        guard !text.isEmpty else { throw .emptyScopes }
        guard text.utf8.count <= 4 * ((3 + 255 * version2IDSize + 2) / 3), let data = Data(base64Encoded: text) else {
            throw .malformedScope(String(text.prefix(130)))
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 3 else { throw .malformedScope(String(text.prefix(130))) }
        let idSize = Int(bytes[0]) << 8 | Int(bytes[1])
        let count = Int(bytes[2])
        guard idSize == version2IDSize, count >= 1, bytes.count == 3 + count * idSize else { throw .malformedScope(String(text.prefix(130))) }
        guard count <= maximumScopes else { throw .tooManyScopes }
        var scopes: [Scope] = []
        var seen = Set<HashValue>()
        for index in 0..<count {
            let id = HashValue(bytes[(3 + index * idSize)..<(3 + (index + 1) * idSize)])
            if seen.insert(id).inserted { scopes.append(Scope(segmentID: id, text: id.hex.uppercased())) }
        }
        return scopes
    }
}

/// Why a datagram on the discovery port is not a PeerDist Probe.
public enum WSDiscoveryProbeError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooLarge(bytes: Int)
    case malformedXML(String)
    case notSOAPEnvelope
    case missingElement(String)
    case repeatedElement(String)
    case unexpectedElement(String)
    case notProbe(action: String)
    case wrongDestination(String)
    case invalidMessageID
    /// A WS-Discovery Probe for other types (printers, Function Discovery): not ours to answer.
    case notPeerDist(types: String)
    case wrongMatchRule(String)
    case emptyScopes
    case malformedScope(String)
    case tooManyScopes

    public var description: String {
        switch self {
        case .tooLarge(let bytes): "datagram of \(bytes) bytes is larger than \(WSDiscoveryProbe.maximumDatagramBytes)"
        case .malformedXML(let reason): "not well-formed XML: \(reason)"
        case .notSOAPEnvelope: "not a SOAP 1.2 envelope"
        case .missingElement(let name): "no \(name)"
        case .repeatedElement(let name): "more than one \(name)"
        case .unexpectedElement(let what): what
        case .notProbe(let action): "action \(action) is not Probe"
        case .wrongDestination(let to): "addressed to \(to), not to WS-Discovery"
        case .invalidMessageID: "message ID missing, too long or not a URI"
        case .notPeerDist(let types): "probes for types \"\(types)\", not PeerDist data"
        case .wrongMatchRule(let rule): "scope matching rule \"\(rule)\" does not fit the probe's version"
        case .emptyScopes: "no segment IDs in the scopes"
        case .malformedScope(let scope): "scope \(scope) is not a segment ID"
        case .tooManyScopes: "more than \(WSDiscoveryProbe.maximumScopes) segment IDs"
        }
    }
}

extension XMLReader.Element {
    /// The element's text without the whitespace around it.
    var trimmedText: String {
        String(text.drop(while: \.isXMLSpace).reversed().drop(while: \.isXMLSpace).reversed())
    }
}

extension Character {
    /// XML's whitespace: space, tab, carriage return, line feed.
    var isXMLSpace: Bool { self == " " || self == "\t" || self == "\n" || self == "\r" || self == "\r\n" }
}
