import Foundation
import Logging
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

    /// Version 2 Probes get the availability bitmap: two bits per probed segment, in the order
    /// the Probe listed them, packed as configured.
    @Test(arguments: [(PCCRDBitOrder.mostSignificantFirst, UInt8(0x30)), (.leastSignificantFirst, UInt8(0x0C))])
    func version2ProbesGetTheBitmap(_ order: PCCRDBitOrder, _ expected: UInt8) throws {
        let held = HashValue(hex: WSDiscoveryTests.ipxeV2[1])!
        let responder = WSDiscoveryResponder(
            heldBlockCount: { $0 == held ? 1 : 0 }, transportPort: 8080, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            version2BitOrder: order)
        let reply = try #require(responder.reply(to: try WSDiscoveryTests.envelope(try WSDiscoveryTests.fixture("pccrd-probe-v2.xml"), from: "::1")))
        let envelope = try XMLReader.read(reply)
        let match = try #require(envelope.children(PCCRD.Namespace.soap, "Body").first?
            .children(PCCRD.Namespace.discovery, "ProbeMatches").first?.children(PCCRD.Namespace.discovery, "ProbeMatch").first)
        #expect(match.children(PCCRD.Namespace.discovery, "Types").first?.trimmedText == "PeerDist:PeerDistDataV2")
        let scopes = try #require(match.children(PCCRD.Namespace.discovery, "Scopes").first?.trimmedText)
        #expect(Data(base64Encoded: scopes).map(Array.init) == [expected], "segment 0 absent, segment 1 held whole")
        let ages = match.children(PCCRD.Namespace.peerDist, "PeerDistDataV2").first?.children(PCCRD.Namespace.peerDist, "SegmentAges").first?.trimmedText
        #expect(ages == "AAEDAA==", "an extensible blob with no ages")
        #expect(match.children(PCCRD.Namespace.discovery, "XAddrs").first?.trimmedText.hasSuffix(":8080") == true)
    }

    @Test func theBitmapPacksFourSegmentsToAByte() {
        let states: [(some: Bool, all: Bool)] = [(true, true), (true, false), (false, false), (true, true), (true, true)]
        #expect(WSDiscoveryProbeMatchV2(states: states, order: .mostSignificantFirst).availability == [0b11_10_00_11, 0b11_00_00_00])
        #expect(WSDiscoveryProbeMatchV2(states: states, order: .leastSignificantFirst).availability == [0b11_00_10_11, 0b00_00_00_11])
    }

    /// MS-PCCRD's damping: silent when ten holders answered with the whole segment, one time in
    /// three when ten answered with less, always otherwise.
    @Test func dampingFollowsWhatThisNodesOwnProbeHeard() throws {
        let damping = PCCRDDamping()
        let id = Self.ids[0]
        #expect(damping.shouldAnswer(id), "nothing heard")
        damping.record(id, replies: 9, fullReplies: 9)
        #expect(damping.shouldAnswer(id, random: { 0.99 }), "fewer than ten replies")
        damping.record(id, replies: 10, fullReplies: 10)
        #expect(!damping.shouldAnswer(id, random: { 0 }), "well served")
        damping.record(id, replies: 12, fullReplies: 3)
        #expect(damping.shouldAnswer(id, random: { 0.32 }) && !damping.shouldAnswer(id, random: { 0.34 }))

        let responder = WSDiscoveryResponder(
            heldBlockCount: { _ in 2 }, transportPort: 8080, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            answersFor: { $0 != HashValue(hex: WSDiscoveryTests.ipxeV1)! })
        let probe = WSDiscoveryTests.probe(scopes: "\(WSDiscoveryTests.ipxeV1)")
        #expect(responder.reply(to: try WSDiscoveryTests.envelope(probe, from: "::1")) == nil, "damped")
    }
}
