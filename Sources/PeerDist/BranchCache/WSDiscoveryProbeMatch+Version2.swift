import Foundation

/// How a version 2 ProbeMatch packs its two bits per probed segment into bytes. MS-PCCRD does not
/// say; the protocol reference presumes the first segment in the most significant bits, which is
/// the default (`serve --branchcache-v2-bit-order`).
public enum PCCRDBitOrder: String, Hashable, Sendable, CaseIterable {
    case mostSignificantFirst = "msb"
    case leastSignificantFirst = "lsb"
}

/// A version 2 ProbeMatch (MS-PCCRD 2.2.2.2 with `PeerDistDataV2`): instead of segment IDs and
/// block counts, one pair of bits per probed segment, in the Probe's order — high bit "holds some
/// of it", low bit "holds all of it" — base64 in `wsd:Scopes`, and the segments' ages as an
/// extensible blob (`PeerDist:SegmentAges`; this node reports none).
struct WSDiscoveryProbeMatchV2 {
    /// Held-some and held-all per probed segment.
    var states: [(some: Bool, all: Bool)]
    var order: PCCRDBitOrder

    /// Two bits per segment, four segments to a byte, the last byte padded with zeros.
    var availability: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (states.count + 3) / 4)
        for (index, state) in states.enumerated() {
            let bits: UInt8 = (state.some ? 2 : 0) | (state.all ? 1 : 0)
            let slot = index % 4
            let shift = order == .mostSignificantFirst ? 6 - 2 * slot : 2 * slot
            bytes[index / 4] |= bits << shift
        }
        return bytes
    }

    /// An extensible blob version 1 with no ages: Version(2) = 1, units 0.01 s, count 0.
    static let noSegmentAges: [UInt8] = [0, 1, 3, 0]

    func encoded(answering probe: WSDiscoveryProbe, endpoint: WSDiscoveryProbeMatch.Endpoint, messageNumber: UInt64, transportAddress: String) -> [UInt8] {
        let escaped = WSDiscoveryProbeMatch.escaped
        var xml = #"<?xml version="1.0" encoding="utf-8"?>"#
        xml += #"<soap:Envelope xmlns:soap="\#(PCCRD.Namespace.soap)" xmlns:wsa="\#(PCCRD.Namespace.addressing)""#
        xml += #" xmlns:wsd="\#(PCCRD.Namespace.discovery)" xmlns:PeerDist="\#(PCCRD.Namespace.peerDist)">"#
        xml += "<soap:Header>"
        xml += "<wsa:To>\(PCCRD.anonymousDestination)</wsa:To>"
        xml += "<wsa:Action>\(PCCRD.Action.probeMatches)</wsa:Action>"
        xml += "<wsa:MessageID>urn:uuid:\(UUID().uuidString.lowercased())</wsa:MessageID>"
        xml += "<wsa:RelatesTo>\(escaped(probe.messageID))</wsa:RelatesTo>"
        xml += #"<wsd:AppSequence InstanceId="\#(endpoint.instanceID)" MessageNumber="\#(messageNumber)"/>"#
        xml += "</soap:Header>"
        xml += "<soap:Body><wsd:ProbeMatches><wsd:ProbeMatch>"
        xml += "<wsa:EndpointReference><wsa:Address>\(escaped(endpoint.address))</wsa:Address></wsa:EndpointReference>"
        xml += "<wsd:Types>PeerDist:PeerDistDataV2</wsd:Types>"
        xml += "<wsd:Scopes>\(Data(availability).base64EncodedString())</wsd:Scopes>"
        xml += "<wsd:XAddrs>\(escaped(transportAddress))</wsd:XAddrs>"
        xml += "<wsd:MetadataVersion>2</wsd:MetadataVersion>"
        xml += "<PeerDist:PeerDistDataV2><PeerDist:SegmentAges>\(Data(Self.noSegmentAges).base64EncodedString())</PeerDist:SegmentAges></PeerDist:PeerDistDataV2>"
        xml += "</wsd:ProbeMatch></wsd:ProbeMatches></soap:Body></soap:Envelope>"
        return Array(xml.utf8)
    }
}
