import Foundation
import FuzzSupport
import PeerDistHashing
import PeerDist

/// A datagram on the WS-Discovery port, from any WS-Discovery speaker on the LAN: the XML reader
/// turns it into elements or refuses it, the probe parser finds a PeerDist Probe in them or says
/// why not, and the reply parser (a fetch's side) finds a ProbeMatch or refuses it. For a Probe
/// it accepts, the ProbeMatch this node would answer with (echoing the Probe's message ID and
/// scopes) must itself be XML the reader accepts, and read back as a reply to that Probe.
func fuzz(_ input: [UInt8]) {
    _ = try? XMLReader.read(input)
    // A reply to this node's own Probes, as a fetch reads them.
    _ = try? WSDiscoveryReply(parsing: input)
    guard let probe = try? WSDiscoveryProbe(parsing: input) else { return }
    Fuzzing.check(!probe.scopes.isEmpty && probe.scopes.count <= WSDiscoveryProbe.maximumScopes, "a probe with \(probe.scopes.count) scopes")
    let match = WSDiscoveryProbeMatch(
        answering: probe, matches: probe.scopes.map { .init(scope: $0.text, blockCount: 1) },
        endpoint: endpoint, messageNumber: 1, transportAddress: "[fe80::1%eth0]:7740", messageID: "urn:uuid:0")
    let reply = match.encoded()
    // A fetch reads back what the responder writes.
    let read = try? WSDiscoveryReply(parsing: reply)
    Fuzzing.check(read?.relatesTo == probe.messageID && read?.transportAddress == "[fe80::1%eth0]:7740", "the ProbeMatch does not read back as a reply")
    do {
        _ = try XMLReader.read(reply, limits: XMLReader.Limits(maximumBytes: 1 << 20))
    } catch {
        Fuzzing.check(false, "the ProbeMatch answering a probe is not XML this reader accepts: \(error)")
    }
}

let endpoint = WSDiscoveryProbeMatch.Endpoint(address: "urn:uuid:00000000-0000-0000-0000-000000000000", instanceID: 1)

/// The probes in Fixtures/ (version 1 and 2, as Windows sends them) are committed as seeds too.
func makeSeeds() -> [String: [UInt8]] {
    let envelope = """
        <?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" \
        xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
        xmlns:PeerDist="http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery"><soap:Header>\
        <wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>\
        <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>\
        <wsa:MessageID>urn:uuid:&amp;&#x41;&#66;</wsa:MessageID></soap:Header><soap:Body><wsd:Probe>\
        <wsd:Types>PeerDist:PeerDistData</wsd:Types><wsd:Scopes MatchBy="http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0">\
        \(String(repeating: "AB", count: 32)) \(String(repeating: "cd", count: 48))</wsd:Scopes></wsd:Probe></soap:Body></soap:Envelope>
        """
    let probe = WSDiscoveryProbe.version1(segmentIDs: [HashValue([UInt8](repeating: 0xAB, count: 32))], messageID: "urn:uuid:1")
    let match = WSDiscoveryProbeMatch(
        answering: probe, matches: [.init(scope: probe.scopes[0].text, blockCount: 42)], endpoint: endpoint, messageNumber: 1,
        transportAddress: "[fe80::2]:8080", messageID: "urn:uuid:2")
    return [
        "probe-escaped-id": Array(envelope.utf8), "comment-and-cdata": Array("<a><!-- c --><![CDATA[x<y]]><b c='&lt;'/></a>".utf8),
        "probe-match": match.encoded(),
    ]
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
