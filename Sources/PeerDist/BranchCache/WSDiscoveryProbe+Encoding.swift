import Foundation
import PeerDistHashing

extension WSDiscoveryProbe {
    /// A version 1 Probe for these segments, as Windows and iPXE send it: upper-case hex scopes
    /// matched by `strcmp0`, a fresh `urn:uuid` message ID.
    package static func version1(segmentIDs: [HashValue], messageID: String = "urn:uuid:\(UUID().uuidString.lowercased())") -> WSDiscoveryProbe {
        WSDiscoveryProbe(
            messageID: messageID, version: .v1,
            scopes: segmentIDs.map { Scope(segmentID: $0, text: $0.hex.uppercased()) })
    }

    /// The datagram, version 1 only (the form every responder answers).
    package func encoded() -> [UInt8] {
        var xml = #"<?xml version="1.0" encoding="utf-8"?>"#
        xml += #"<soap:Envelope xmlns:soap="\#(PCCRD.Namespace.soap)" xmlns:wsa="\#(PCCRD.Namespace.addressing)""#
        xml += #" xmlns:wsd="\#(PCCRD.Namespace.discovery)" xmlns:PeerDist="\#(PCCRD.Namespace.peerDist)">"#
        xml += "<soap:Header>"
        xml += "<wsa:To>\(PCCRD.discoveryDestination)</wsa:To>"
        xml += "<wsa:Action>\(PCCRD.Action.probe)</wsa:Action>"
        xml += "<wsa:MessageID>\(WSDiscoveryProbeMatch.escaped(messageID))</wsa:MessageID>"
        xml += "</soap:Header>"
        xml += "<soap:Body><wsd:Probe><wsd:Types>PeerDist:PeerDistData</wsd:Types>"
        xml += #"<wsd:Scopes MatchBy="\#(PCCRD.MatchRule.version1)">"#
        xml += WSDiscoveryProbeMatch.escaped(scopes.map(\.text).joined(separator: " "))
        xml += "</wsd:Scopes></wsd:Probe></soap:Body></soap:Envelope>"
        return Array(xml.utf8)
    }
}
