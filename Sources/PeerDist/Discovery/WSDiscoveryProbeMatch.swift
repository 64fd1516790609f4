import Foundation

/// A BranchCache ProbeMatch (MS-PCCRD 2.2.2.2, version 1): the unicast answer to a Probe,
/// listing the probed segments this node holds, how many blocks of each, and where to fetch them.
///
/// ```
/// Header: To = …/addressing/role/anonymous, Action = …/discovery/ProbeMatches,
///         MessageID (fresh), RelatesTo = the Probe's MessageID,
///         wsd:AppSequence InstanceId MessageNumber
/// Body/wsd:ProbeMatches/wsd:ProbeMatch:
///   wsa:EndpointReference/wsa:Address   urn:uuid of this node, fixed while it runs
///   wsd:Types                           PeerDist:PeerDistData
///   wsd:Scopes                          the matched segment IDs, as the Probe spelled them
///   wsd:XAddrs                          host:port of the MS-PCCRR listener (no scheme, no path)
///   wsd:MetadataVersion                 1
///   PeerDist:PeerDistData/PeerDist:BlockCount   8 upper-case hex digits per scope, concatenated
/// ```
/// The prefixes are written exactly so (`wsd:`, `PeerDist:`): iPXE looks for the literal tags
/// `<wsd:Scopes>`, `<wsd:XAddrs>` and `<PeerDist:BlockCount>` rather than parsing namespaces.
public struct WSDiscoveryProbeMatch: Hashable, Sendable {
    /// A held segment: the scope text from the Probe and the number of its blocks held.
    public struct Match: Hashable, Sendable {
        public var scope: String
        /// Blocks of the segment held and verified. Never 0: iPXE drops such entries, and a
        /// segment with no blocks is not worth a client's request.
        public var blockCount: UInt32

        public init(scope: String, blockCount: UInt32) {
            self.scope = scope
            self.blockCount = blockCount
        }
    }

    /// Who answers: the endpoint address and AppSequence instance, fixed for a responder's
    /// lifetime as Windows fixes them per service start.
    public struct Endpoint: Hashable, Sendable {
        /// `urn:uuid:…`, new each time a responder starts.
        public var address: String
        /// Increases across restarts: the start time in Unix seconds, as Windows 7 uses.
        public var instanceID: UInt64

        public init(address: String, instanceID: UInt64) {
            self.address = address
            self.instanceID = instanceID
        }

        public static func fresh() -> Endpoint {
            Endpoint(address: "urn:uuid:\(UUID().uuidString.lowercased())", instanceID: UInt64(max(0, Date().timeIntervalSince1970)))
        }
    }

    public var messageID: String
    public var relatesTo: String
    public var endpoint: Endpoint
    /// Counts the responder's messages from 1.
    public var messageNumber: UInt64
    public var matches: [Match]
    /// `host:port` of the MS-PCCRR listener, IPv6 hosts in brackets.
    public var transportAddress: String

    /// Windows Vista and 7 send 1, Windows 8 and later 2; python-peerdist sends 1 with version 1
    /// data. We answer version 1 probes only, so 1.
    public static let metadataVersion = 1

    public init(
        answering probe: WSDiscoveryProbe, matches: [Match], endpoint: Endpoint, messageNumber: UInt64, transportAddress: String,
        messageID: String = "urn:uuid:\(UUID().uuidString.lowercased())"
    ) {
        self.messageID = messageID
        self.relatesTo = probe.messageID
        self.endpoint = endpoint
        self.messageNumber = messageNumber
        self.matches = matches
        self.transportAddress = transportAddress
    }

    /// The datagram: UTF-8 XML, no insignificant whitespace.
    public func encoded() -> [UInt8] {
        let scopes = matches.map(\.scope).joined(separator: " ")
        let counts = matches.map { Self.eightHexDigits($0.blockCount) }.joined()
        var xml = #"<?xml version="1.0" encoding="utf-8"?>"#
        xml += #"<soap:Envelope xmlns:soap="\#(PCCRD.Namespace.soap)" xmlns:wsa="\#(PCCRD.Namespace.addressing)""#
        xml += #" xmlns:wsd="\#(PCCRD.Namespace.discovery)" xmlns:PeerDist="\#(PCCRD.Namespace.peerDist)">"#
        xml += "<soap:Header>"
        xml += "<wsa:To>\(PCCRD.anonymousDestination)</wsa:To>"
        xml += "<wsa:Action>\(PCCRD.Action.probeMatches)</wsa:Action>"
        xml += "<wsa:MessageID>\(Self.escaped(messageID))</wsa:MessageID>"
        xml += "<wsa:RelatesTo>\(Self.escaped(relatesTo))</wsa:RelatesTo>"
        xml += #"<wsd:AppSequence InstanceId="\#(endpoint.instanceID)" MessageNumber="\#(messageNumber)"/>"#
        xml += "</soap:Header>"
        xml += "<soap:Body><wsd:ProbeMatches><wsd:ProbeMatch>"
        xml += "<wsa:EndpointReference><wsa:Address>\(Self.escaped(endpoint.address))</wsa:Address></wsa:EndpointReference>"
        xml += "<wsd:Types>PeerDist:PeerDistData</wsd:Types>"
        xml += "<wsd:Scopes>\(Self.escaped(scopes))</wsd:Scopes>"
        xml += "<wsd:XAddrs>\(Self.escaped(transportAddress))</wsd:XAddrs>"
        xml += "<wsd:MetadataVersion>\(Self.metadataVersion)</wsd:MetadataVersion>"
        xml += "<PeerDist:PeerDistData><PeerDist:BlockCount>\(counts)</PeerDist:BlockCount></PeerDist:PeerDistData>"
        xml += "</wsd:ProbeMatch></wsd:ProbeMatches></soap:Body></soap:Envelope>"
        return Array(xml.utf8)
    }

    /// `0000002A`: the spec's prose shows 4 digits, its XML examples, iPXE and python-peerdist 8.
    static func eightHexDigits(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Text from a Probe goes back out; it must not be able to add markup.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}
