import NIOCore
import PeerDistHashing
import Testing
@testable import PeerDist

/// The client side of MS-PCCRD: the Probes a fetch sends read back as the responder reads them,
/// and the ProbeMatches the responder writes give the holder's MS-PCCRR address.
@Suite struct BranchCacheProbeTests {
    static let ids = [HashValue([UInt8](repeating: 0xAB, count: 32)), HashValue([UInt8](repeating: 0x01, count: 32))]

    @Test func aProbeReadsBackAsTheResponderReadsIt() throws {
        let probe = WSDiscoveryProbe.version1(segmentIDs: Self.ids)
        let read = try WSDiscoveryProbe(parsing: probe.encoded())
        #expect(read == probe)
        #expect(read.scopes.map(\.text) == Self.ids.map { $0.hex.uppercased() }, "upper-case hex, as Windows sends")
    }

    @Test func aProbeMatchGivesTheHolderAndItsSegments() throws {
        let probe = WSDiscoveryProbe.version1(segmentIDs: Self.ids)
        let match = WSDiscoveryProbeMatch(
            answering: probe, matches: [.init(scope: probe.scopes[1].text, blockCount: 42)], endpoint: .fresh(), messageNumber: 1,
            transportAddress: "[fe80::2]:8080")
        let reply = try WSDiscoveryReply(parsing: match.encoded())
        #expect(reply.relatesTo == probe.messageID)
        #expect(reply.transportAddress == "[fe80::2]:8080")
        #expect(reply.segments == [Self.ids[1]: 42])

        // A link-local XAddrs takes the interface the reply came in by.
        let sender = try SocketAddress(ipAddress: "fe80::2%lo", port: 3702)
        let holder = BranchCacheHolderLookup.holder(reply, from: sender)
        #expect(holder == PeerAddress(host: "fe80::2%lo", port: 8080))
        let v4 = WSDiscoveryProbeMatch(answering: probe, matches: [.init(scope: probe.scopes[0].text, blockCount: 1)], endpoint: .fresh(), messageNumber: 2, transportAddress: "10.0.0.7:80")
        #expect(BranchCacheHolderLookup.holder(try WSDiscoveryReply(parsing: v4.encoded()), from: sender) == PeerAddress(host: "10.0.0.7", port: 80))
    }

    @Test func otherDatagramsAreNotReplies() {
        let probe = WSDiscoveryProbe.version1(segmentIDs: Self.ids)
        #expect(throws: WSDiscoveryReply.Malformed.self, "a Probe is not a reply") { try WSDiscoveryReply(parsing: probe.encoded()) }
        #expect(throws: WSDiscoveryReply.Malformed.self) { try WSDiscoveryReply(parsing: Array("<a/>".utf8)) }
        #expect(throws: WSDiscoveryReply.Malformed.self) { try WSDiscoveryReply(parsing: Array("not xml".utf8)) }
    }
}
