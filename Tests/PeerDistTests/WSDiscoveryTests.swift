import Foundation
import Logging
import Metrics
import MetricsTestKit
import NIOCore
import NIOPosix
import PeerDistHashing
import Testing
@testable import PeerDist

/// BranchCache discovery (MS-PCCRD): reading Probes, building ProbeMatches, answering on a socket.
@Suite struct WSDiscoveryTests {
    /// The iPXE / IIS 8.5 capture's version 1 segment ID (reference §8.1), and its version 2 IDs.
    static let ipxeV1 = "491B217DBEE2B5F12CA79B015E06F4BBE64F9745BAD7867AEF17DE59927EDCE9"
    static let ipxeV2 = [
        "3371bbeaddb62353adcef970a06fdf65001e0421f4c7108276b0c37a9f9ec10f",
        "d7e924425e8f4f88f01dc6a9bb1bc37be113ec7917c745d4965c2b55fa163a6e",
    ]
    static let unknown = String(repeating: "AB", count: 32)

    static func fixture(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
        return try [UInt8](Data(contentsOf: url))
    }

    /// A version 1 Probe with the usual prefixes and the given parts.
    static func probe(
        messageID: String = "urn:uuid:91528b47-b96d-4e30-981f-308c0586926f",
        to: String = "urn:schemas-xmlsoap-org:ws:2005:04:discovery",
        action: String = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe",
        types: String = "PeerDist:PeerDistData",
        matchBy: String? = "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0",
        scopes: String = ipxeV1,
        extraHeader: String = "", extraBody: String = ""
    ) -> [UInt8] {
        let matchByAttribute = matchBy.map { #" MatchBy="\#($0)""# } ?? ""
        let xml = """
            <?xml version="1.0" encoding="utf-8"?>\
            <soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" \
            xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" \
            xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
            xmlns:PeerDist="http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery">\
            <soap:Header><wsa:To>\(to)</wsa:To>\
            <wsa:Action>\(action)</wsa:Action><wsa:MessageID>\(messageID)</wsa:MessageID>\(extraHeader)</soap:Header>\
            <soap:Body><wsd:Probe><wsd:Types>\(types)</wsd:Types>\
            <wsd:Scopes\(matchByAttribute)>\(scopes)</wsd:Scopes></wsd:Probe>\(extraBody)</soap:Body></soap:Envelope>
            """
        return Array(xml.utf8)
    }

    // MARK: Reading probes

    @Test func readsTheVersion1Fixture() throws {
        let probe = try WSDiscoveryProbe(parsing: Self.fixture("pccrd-probe-v1.xml"))
        #expect(probe.messageID == "urn:uuid:91528b47-b96d-4e30-981f-308c0586926f")
        #expect(probe.version == .v1)
        #expect(probe.scopes == [WSDiscoveryProbe.Scope(segmentID: HashValue(hex: Self.ipxeV1)!, text: Self.ipxeV1)])
    }

    @Test func readsTheVersion2Fixture() throws {
        let probe = try WSDiscoveryProbe(parsing: Self.fixture("pccrd-probe-v2.xml"))
        #expect(probe.version == .v2)
        #expect(probe.scopes.map(\.segmentID) == Self.ipxeV2.map { HashValue(hex: $0)! })
        #expect(probe.scopes.map(\.text) == Self.ipxeV2.map { $0.uppercased() })
    }

    /// MS-PCCRD's own version 2 example lists one dummy ID twice; it is read once.
    @Test func readsTheSpecificationsVersion2Scope() throws {
        let scopes = try WSDiscoveryProbe.version2Scopes(
            "ACACI74aAQAAAAAwHRoBAAAAAEEAQQBEAHkAZwBNAE0AMQAjvhoBAAAAADAdGgEAAAAAQQBBAEQAeQBnAE0ATQAxAA==")
        #expect(scopes.count == 1)
        #expect(scopes.first?.segmentID.hex == "23be1a0100000000301d1a0100000000410041004400790067004d004d003100")
    }

    /// Prefixes are the sender's choice; names are matched by namespace.
    static let otherSpellings: [(String, String)] = [
        ("short prefixes", """
            <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" \
            xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:pd="http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery">\
            <s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>urn:uuid:1</a:MessageID></s:Header>\
            <s:Body><d:Probe><d:Types>pd:PeerDistData</d:Types><d:Scopes>\(ipxeV1)</d:Scopes></d:Probe></s:Body></s:Envelope>
            """),
        ("default namespaces, declared where used", """
            <Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header>\
            <Action xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</Action>\
            <MessageID xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:uuid:1</MessageID></Header>\
            <Body><Probe xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery">\
            <Types xmlns:x="http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery">x:PeerDistData</Types>\
            <Scopes MatchBy="http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0">\(ipxeV1)</Scopes></Probe></Body></Envelope>
            """),
        ("python-peerdist style: single-quoted declaration, bare UUID, comments, CDATA", """
            <?xml version='1.0' encoding='utf-8'?>
            <!-- a probe -->
            <soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://schemas.xmlsoap.org/ws/2004/08/addressing' \
            xmlns:wsd='http://schemas.xmlsoap.org/ws/2005/04/discovery' xmlns:PeerDist='http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery'>
              <soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>
                <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>
                <wsa:MessageID>1</wsa:MessageID><wsa:ReplyTo><wsa:Address>ignored</wsa:Address></wsa:ReplyTo></soap:Header>
              <soap:Body><wsd:Probe><wsd:Types>  PeerDist:PeerDistData  </wsd:Types>
                <wsd:Scopes MatchBy="http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0"><![CDATA[\(ipxeV1)]]><!-- c --></wsd:Scopes>
              </wsd:Probe></soap:Body>
            </soap:Envelope>
            """),
    ]

    @Test(arguments: otherSpellings)
    func readsOtherSpellings(name: String, xml: String) throws {
        let probe = try WSDiscoveryProbe(parsing: Array(xml.utf8))
        #expect(probe.version == .v1, "\(name)")
        #expect(probe.scopes.map(\.text) == [Self.ipxeV1], "\(name)")
        #expect(probe.messageID == "urn:uuid:1" || probe.messageID == "1", "\(name)")
    }

    @Test func readsManyScopesInOrderWithoutDuplicates() throws {
        let ids = (0..<5).map { String(repeating: String(format: "%02X", $0), count: 32) }
        let lowerCase = String(repeating: "cd", count: 48)  // a SHA-384 sized ID, lower case: kept as sent
        let probe = try WSDiscoveryProbe(parsing: Self.probe(scopes: "\n \(ids.joined(separator: "\t"))  \(ids[0]) \(lowerCase)\r\n"))
        #expect(probe.scopes.map(\.text) == ids + [lowerCase])
    }

    /// A datagram to refuse, named by what is wrong with it (the bytes would swamp test output).
    struct Malformation: Sendable, CustomTestStringConvertible {
        var name: String
        var datagram: [UInt8]
        var expected: WSDiscoveryProbeError?
        var testDescription: String { name }
    }

    static let malformations: [(String, [UInt8], WSDiscoveryProbeError?)] = [
        ("too large", Array(repeating: UInt8(ascii: " "), count: 64 * 1024 + 1), .tooLarge(bytes: 64 * 1024 + 1)),
        ("empty", [], nil),
        ("not XML", Array("hello".utf8), nil),
        ("truncated", Array(probe().dropLast(20)), nil),
        ("mismatched end tag", Array("<a><b></a></b>".utf8), nil),
        ("document type", Array(#"<!DOCTYPE x [<!ENTITY e "eee">]><x>&e;</x>"#.utf8), nil),
        ("unknown entity", Array("<x>&e;</x>".utf8), nil),
        ("NUL character reference", Array("<x>&#0;</x>".utf8), nil),
        ("duplicate attribute", Array(#"<x a="1" a="2"/>"#.utf8), nil),
        ("undeclared prefix", Array("<p:x/>".utf8), nil),
        ("two roots", Array("<x/><y/>".utf8), nil),
        ("UTF-16 declared", Array(#"<?xml version="1.0" encoding="utf-16"?><x/>"#.utf8), nil),
        ("nested too deep", Array((String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40)).utf8), nil),
        ("SOAP 1.1", Array(#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#.utf8), .notSOAPEnvelope),
        ("no header", Array(#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>"#.utf8), .missingElement("soap:Header")),
        ("no body", Array(#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>"#.utf8), .missingElement("soap:Body")),
        ("Hello, not Probe", probe(action: "http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello"),
         .notProbe(action: "http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello")),
        ("other destination", probe(to: "urn:other"), .wrongDestination("urn:other")),
        ("two destinations", probe(extraHeader: "<wsa:To>urn:other</wsa:To>"), .repeatedElement("wsa:To")),
        ("empty message ID", probe(messageID: " "), .invalidMessageID),
        ("message ID with spaces", probe(messageID: "urn:uuid:a b"), .invalidMessageID),
        ("message ID too long", probe(messageID: String(repeating: "u", count: 257)), .invalidMessageID),
        ("two message IDs", probe(extraHeader: "<wsa:MessageID>urn:uuid:2</wsa:MessageID>"), .repeatedElement("wsa:MessageID")),
        ("device probe", Array("""
            <soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" \
            xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof">\
            <soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>\
            <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>\
            <wsa:MessageID>urn:uuid:29cf10da-5c41-4d55-b184-5ee15e38ce23</wsa:MessageID></soap:Header>\
            <soap:Body><wsd:Probe><wsd:Types>wsdp:Device</wsd:Types></wsd:Probe></soap:Body></soap:Envelope>
            """.utf8), .notPeerDist(types: "wsdp:Device")),
        ("other type", probe(types: "wsd:Device"), .notPeerDist(types: "wsd:Device")),
        ("no types", probe(types: ""), .notPeerDist(types: "")),
        ("version 1 and 2 types", probe(types: "PeerDist:PeerDistData PeerDist:PeerDistDataV2"),
         .notPeerDist(types: "PeerDist:PeerDistData PeerDist:PeerDistDataV2")),
        ("undeclared type prefix", probe(types: "pd:PeerDistData"), .notPeerDist(types: "pd:PeerDistData")),
        ("other match rule", probe(matchBy: "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986"),
         .wrongMatchRule("http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986")),
        ("empty scopes", probe(scopes: "  "), .emptyScopes),
        ("short scope", probe(scopes: String(ipxeV1.dropLast())), .malformedScope(String(ipxeV1.dropLast()))),
        ("non-hex scope", probe(scopes: "urn:printer"), .malformedScope("urn:printer")),
        ("16-byte scope", probe(scopes: String(repeating: "AB", count: 16)), .malformedScope(String(repeating: "AB", count: 16))),
        ("too many scopes", probe(scopes: (0..<257).map { String(format: "%064X", $0) }.joined(separator: " ")), .tooManyScopes),
        ("extra body element", probe(extraBody: "<wsd:Probe/>"), .repeatedElement("wsd:Probe")),
        ("foreign body element", probe(extraBody: "<x xmlns='urn:x'/>"), .unexpectedElement("soap:Body holds more than the Probe")),
        ("version 2 without its rule", probe(types: "PeerDist:PeerDistDataV2", scopes: "AAA="), .wrongMatchRule(
            "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0")),
    ]

    @Test(arguments: malformations.map { Malformation(name: $0.0, datagram: $0.1, expected: $0.2) })
    func refusesMalformedProbes(_ malformation: Malformation) {
        let (name, datagram, expected) = (malformation.name, malformation.datagram, malformation.expected)
        #expect(WSDiscoveryProbe(datagram: datagram) == nil, "\(name)")
        do {
            _ = try WSDiscoveryProbe(parsing: datagram)
        } catch {
            if let expected {
                #expect(error == expected, "\(name)")
            } else if case .malformedXML = error {
            } else {
                Issue.record("\(name): expected malformed XML, got \(error)")
            }
        }
    }

    static let malformedVersion2Scopes: [String] = [
        "not base64!",
        "AAA=",  // too short for the header
        "ACAB",  // count 1, no ID
        "ABABAAAAAAAAAAAAAAAAAAAAAAA=",  // 16-byte IDs
        "ACAAAA==",  // count 0
        Data([0, 32, 2] + [UInt8](repeating: 7, count: 33)).base64EncodedString(),  // 2 IDs promised, 1 and a bit given
    ]

    @Test(arguments: malformedVersion2Scopes)
    func refusesMalformedVersion2Scopes(scope: String) {
        #expect(throws: WSDiscoveryProbeError.self) { try WSDiscoveryProbe.version2Scopes(scope) }
    }

    /// Random bytes, and the fixture with random damage, never crash the reader.
    @Test func survivesGarbage() throws {
        var random = SeededGenerator(seed: 0x5043_4352_44)
        let valid = try Self.fixture("pccrd-probe-v1.xml")
        var accepted = 0
        for round in 0..<2000 {
            var datagram: [UInt8]
            switch round % 4 {
            case 0:
                datagram = (0..<Int.random(in: 0...600, using: &random)).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            case 1:
                // Random markup-ish bytes reach deeper into the reader than uniform noise.
                let alphabet = Array("<>/=\"' :&;#x!?-[]abcdwsaPeerDist0123456789ABCDEF\n".utf8)
                datagram = (0..<Int.random(in: 0...600, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            case 2:
                datagram = valid
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    datagram[Int.random(in: 0..<datagram.count, using: &random)] = UInt8.random(in: .min ... .max, using: &random)
                }
            default:
                datagram = Array(valid.prefix(Int.random(in: 0...valid.count, using: &random)))
            }
            if WSDiscoveryProbe(datagram: datagram) != nil { accepted += 1 }
        }
        // Only damage that misses every meaningful byte (or truncation of trailing whitespace) leaves a probe.
        #expect(accepted < 500)
    }

    // MARK: Building matches

    static let endpoint = WSDiscoveryProbeMatch.Endpoint(address: "urn:uuid:87a89944-0230-43a5-ac4e-fab1386c8e2c", instanceID: 1_218_765_447)

    @Test func matchAnswersTheProbe() throws {
        let probe = try WSDiscoveryProbe(parsing: Self.probe(messageID: "urn:a&amp;b", scopes: "\(Self.ipxeV1) \(Self.unknown)"))
        #expect(probe.messageID == "urn:a&b")
        let match = WSDiscoveryProbeMatch(
            answering: probe, matches: [.init(scope: probe.scopes[0].text, blockCount: 42)], endpoint: Self.endpoint,
            messageNumber: 4, transportAddress: "157.59.141.183:54321", messageID: "urn:uuid:7f4b09a3-96c9-4170-9eb3-1c805a52f444")
        let bytes = match.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        // iPXE finds these by literal tag, not by namespace.
        #expect(text.contains("<wsd:Scopes>\(Self.ipxeV1)</wsd:Scopes>"))
        #expect(text.contains("<wsd:XAddrs>157.59.141.183:54321</wsd:XAddrs>"))
        #expect(text.contains("<PeerDist:BlockCount>0000002A</PeerDist:BlockCount>"))

        let reply = try ProbeMatchView(bytes)
        #expect(reply.action == PCCRD.Action.probeMatches)
        #expect(reply.to == PCCRD.anonymousDestination)
        #expect(reply.messageID == "urn:uuid:7f4b09a3-96c9-4170-9eb3-1c805a52f444")
        #expect(reply.relatesTo == "urn:a&b")
        #expect(reply.appSequence == ["InstanceId": "1218765447", "MessageNumber": "4"])
        #expect(reply.address == Self.endpoint.address)
        #expect(reply.types == "PeerDist:PeerDistData")
        #expect(reply.scopes == [Self.ipxeV1])
        #expect(reply.metadataVersion == "1")
        #expect(reply.blockCounts == "0000002A")
    }

    @Test func blockCountsAreEightDigitsEachConcatenated() throws {
        let probe = try WSDiscoveryProbe(parsing: Self.probe(scopes: "\(Self.ipxeV1) \(Self.unknown)"))
        let match = WSDiscoveryProbeMatch(
            answering: probe, matches: probe.scopes.enumerated().map { .init(scope: $1.text, blockCount: $0 == 0 ? 512 : 0xFFFF_FFFF) },
            endpoint: Self.endpoint, messageNumber: 1, transportAddress: "[fe80::1]:80")
        let reply = try ProbeMatchView(match.encoded())
        #expect(reply.scopes == [Self.ipxeV1, Self.unknown])
        #expect(reply.blockCounts == "00000200FFFFFFFF")
        #expect(reply.messageID.hasPrefix("urn:uuid:") && reply.messageID != probe.messageID)
    }

    // MARK: Deciding what to answer

    static func envelope(_ bytes: [UInt8], from host: String) throws -> AddressedEnvelope<ByteBuffer> {
        AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: host, port: 50000), data: ByteBuffer(bytes: bytes))
    }

    static func responder(holding held: [String: Int]) -> WSDiscoveryResponder {
        let ids = Dictionary(uniqueKeysWithValues: held.map { (HashValue(hex: $0.key)!, $0.value) })
        return WSDiscoveryResponder(heldBlockCount: { ids[$0] ?? 0 }, transportPort: 8080, logger: Logger(label: "test"))
    }

    @Test func answersOnlyForHeldSegmentsFromTheLink() throws {
        let responder = Self.responder(holding: [Self.ipxeV1: 2])
        let probe = Self.probe(scopes: "\(Self.unknown) \(Self.ipxeV1)")
        let reply = try #require(responder.reply(to: Self.envelope(probe, from: "::1")))
        #expect(try ProbeMatchView(reply).scopes == [Self.ipxeV1])
        #expect(try ProbeMatchView(reply).blockCounts == "00000002")
        #expect(try ProbeMatchView(reply).xAddrs.hasSuffix(":8080"))

        #expect(responder.reply(to: try Self.envelope(Self.probe(scopes: Self.unknown), from: "::1")) == nil, "nothing held")
        #expect(responder.reply(to: try Self.envelope(probe, from: "2001:db8::1")) == nil, "off the link")
        #expect(responder.reply(to: try Self.envelope(probe, from: "198.51.100.1")) == nil, "off the link")
        #expect(responder.reply(to: try Self.envelope(try Self.fixture("pccrd-probe-v2.xml"), from: "::1")) == nil, "version 2, nothing held")
        #expect(Self.responder(holding: [Self.ipxeV1: 0]).reply(to: try Self.envelope(probe, from: "::1")) == nil, "no blocks held")
    }

    @Test func aRepeatedProbeIsAnsweredOnce() throws {
        let responder = Self.responder(holding: [Self.ipxeV1: 2])
        let probe = Self.probe(scopes: Self.ipxeV1)
        #expect(responder.reply(to: try Self.envelope(probe, from: "::1")) != nil)
        #expect(responder.reply(to: try Self.envelope(probe, from: "::1")) == nil, "the same MessageID again")
        #expect(responder.reply(to: try Self.envelope(Self.probe(messageID: Self.socketProbeID, scopes: Self.ipxeV1), from: "::1")) != nil, "a new MessageID")
    }

    @Test func recentMessagesForgetAfterTheWindowAndStayBounded() {
        var recent = RecentMessages()
        let start = ContinuousClock.now
        let first = recent.isNew("a", at: start)
        let repeated = recent.isNew("a", at: start + .milliseconds(500))
        let later = recent.isNew("a", at: start + RecentMessages.window + .seconds(1))
        #expect(first && !repeated && later)
        for index in 0..<(RecentMessages.capacity * 4) { _ = recent.isNew("flood \(index)", at: start) }
        #expect(recent.count <= RecentMessages.capacity)
    }

    @Test func linkLocalAndLoopbackSendersAreOnTheLink() {
        func onLink(_ host: String) -> Bool {
            guard let address = try? SocketAddress(ipAddress: host, port: 1), let bytes = WSDiscoveryResponder.addressBytes(address) else { return false }
            return WSDiscoveryResponder.isOnLink(bytes, devices: [])
        }
        #expect(onLink("fe80::1234"))
        #expect(onLink("febf::1"))
        #expect(onLink("::1"))
        #expect(onLink("127.0.0.1"))
        #expect(onLink("::ffff:127.0.0.1"))
        #expect(!onLink("fec0::1"))
        #expect(!onLink("2001:db8::1"))
        #expect(!onLink("10.0.0.1"))
    }

    // MARK: On a socket

    typealias DatagramChannel = NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>

    /// Sends `probe` to `destination` from a socket bound to `host`, again every 250 ms (a
    /// responder may still be joining its group), and returns the first datagram back, if any
    /// within 5 s.
    static func exchange(_ probe: [UInt8], with destination: SocketAddress, from host: String) async throws -> ByteBuffer? {
        let client: DatagramChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: host, port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try DatagramChannel(wrappingChannelSynchronously: channel) }
            }
        return try await client.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask {
                    for try await envelope in inbound { return envelope.data }
                    return nil
                }
                group.addTask {
                    for _ in 0..<20 {
                        try await outbound.write(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: probe)))
                        try await Task.sleep(for: .milliseconds(250))
                    }
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                client.channel.close(promise: nil)
                return first
            }
        }
    }

    static let socketProbeID = "urn:uuid:00000000-0000-4000-8000-000000000001"

    @discardableResult
    static func checkSocketReply(_ reply: ByteBuffer?) throws -> ProbeMatchView {
        let datagram = try #require(reply, "no ProbeMatch within 5 s")
        let match = try ProbeMatchView(Array(datagram.readableBytesView))
        #expect(match.relatesTo == socketProbeID)
        #expect(match.scopes == [ipxeV1])
        #expect(match.blockCounts == "00000002")
        #expect(match.xAddrs.hasSuffix(":54321"))
        // Numbered from 1 as sent; on a loaded machine the reply read first may answer a copy of
        // the Probe repeated past the 2 s window, so any number will do.
        #expect((match.appSequence["MessageNumber"].flatMap { UInt64($0) } ?? 0) >= 1, "\(match.appSequence)")
        return match
    }

    /// Over loopback, by unicast to the responder's socket: `lo` cannot multicast, and the test
    /// binds any free port rather than 3702, so it does not depend on what else runs on this host.
    // The limit guards against a hang, not a slow run: on a loaded two-core machine the suite's
    // process-running tests can hold the cooperative pool's threads for a minute or more.
    @Test(.timeLimit(.minutes(5))) func answersAProbeOverLoopback() async throws {
        let known = HashValue(hex: Self.ipxeV1)!
        let responder = WSDiscoveryResponder(heldBlockCount: { $0 == known ? 2 : 0 }, transportPort: 54321, logger: Logger(label: "test"))
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let running = Task { try await responder.run(listeningOn: 0) { portContinuation.yield($0) } }
        defer { running.cancel() }
        var portIterator = ports.makeAsyncIterator()
        let port = try #require(await portIterator.next())

        let probe = Self.probe(messageID: Self.socketProbeID, scopes: "\(Self.unknown) \(Self.ipxeV1)")
        try Self.checkSocketReply(try await Self.exchange(probe, with: try SocketAddress(ipAddress: "::1", port: port), from: "::1"))
        running.cancel()
        // Cancelled, the responder returns rather than failing.
        try await running.value
    }

    /// Both sockets count what they read and what they answer. The IPv4 one answered without
    /// counting (`peerdist_branchcache_probes_answered_total` missed every reply to iPXE's
    /// `239.255.255.250` probes, found by iPXE in QEMU beside the node's metrics).
    @Test(.timeLimit(.minutes(5)), arguments: ["::1", "127.0.0.1"])
    func countsTheProbesItAnswersOverEitherFamily(host: String) async throws {
        let known = HashValue(hex: Self.ipxeV1)!
        let metrics = TestMetrics()
        let responder = WSDiscoveryResponder(
            heldBlockCount: { $0 == known ? 2 : 0 }, transportPort: 54321, logger: Logger(label: "test"),
            probesReceived: Counter(label: "received", factory: metrics), probesAnswered: Counter(label: "answered", factory: metrics))
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let running = Task {
            if host.contains(":") {
                try await responder.run(listeningOn: 0) { portContinuation.yield($0) }
            } else {
                try await responder.runIPv4(listeningOn: 0) { portContinuation.yield($0) }
            }
        }
        defer { running.cancel() }
        var portIterator = ports.makeAsyncIterator()
        let port = try #require(await portIterator.next())

        let probe = Self.probe(messageID: Self.socketProbeID, scopes: Self.ipxeV1)
        try Self.checkSocketReply(try await Self.exchange(probe, with: try SocketAddress(ipAddress: host, port: port), from: host))
        // `exchange` repeats the Probe until answered: every copy is read and counted, and the
        // first answered (a copy later than the 2 s window, on a loaded machine, is answered
        // again). The count follows the send, so it may land just after the reply.
        let answered = try metrics.expectCounter("answered")
        let deadline = ContinuousClock.now + .seconds(5)
        while answered.totalValue < 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(answered.totalValue >= 1)
        #expect(try metrics.expectCounter("received").totalValue >= 1)
        running.cancel()
        try await running.value
    }

    /// As a BranchCache client does: to ff02::c port 3702 on a real interface, which loops the
    /// datagram back to this host's sockets in the group. Other sockets sharing port 3702 get
    /// a copy too, but hold no segment with this ID and stay silent.
    @Test(.timeLimit(.minutes(5)), .enabled(if: !LANDiscovery.interfaces().isEmpty, "needs an interface that can multicast"))
    func answersAMulticastProbe() async throws {
        let device = try #require(LANDiscovery.interfaces().first)
        let known = HashValue(hex: Self.ipxeV1)!
        let responder = WSDiscoveryResponder(heldBlockCount: { $0 == known ? 2 : 0 }, transportPort: 54321, logger: Logger(label: "test"))
        let running = Task { try await responder.run() }
        defer { running.cancel() }

        let probe = Self.probe(messageID: Self.socketProbeID, scopes: "\(Self.unknown) \(Self.ipxeV1)")
        let group = try SocketAddress(ipAddress: "\(PCCRD.group)%\(device.name)", port: PCCRD.port)
        let match = try Self.checkSocketReply(try await Self.exchange(probe, with: group, from: "::"))
        // XAddrs names this interface, by its IPv4 address if it has one.
        let addresses = try System.enumerateDevices().filter { $0.interfaceIndex == device.interfaceIndex }.compactMap(\.address)
        let host = String(match.xAddrs.dropLast(":54321".count)).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        #expect(addresses.contains { $0.ipAddress == host })
        if addresses.contains(where: { if case .v4 = $0 { true } else { false } }) { #expect(!match.xAddrs.hasPrefix("[")) }
        running.cancel()
        try await running.value
    }
}

/// A ProbeMatch read back with the same XML reader, by namespace.
struct ProbeMatchView {
    var to, action, messageID, relatesTo, address, types, xAddrs, metadataVersion, blockCounts: String
    var appSequence: [String: String]
    var scopes: [String]

    init(_ bytes: [UInt8]) throws {
        let soap = PCCRD.Namespace.soap, wsa = PCCRD.Namespace.addressing, wsd = PCCRD.Namespace.discovery
        let envelope = try XMLReader.read(bytes)
        let header = try #require(envelope.children(soap, "Header").first)
        let match = try #require(envelope.children(soap, "Body").first?.children(wsd, "ProbeMatches").first?.children(wsd, "ProbeMatch").first)
        func text(_ element: XMLReader.Element?) throws -> String { try #require(element).trimmedText }
        to = try text(header.children(wsa, "To").first)
        action = try text(header.children(wsa, "Action").first)
        messageID = try text(header.children(wsa, "MessageID").first)
        relatesTo = try text(header.children(wsa, "RelatesTo").first)
        let sequence = try #require(header.children(wsd, "AppSequence").first)
        appSequence = Dictionary(uniqueKeysWithValues: sequence.attributes.map { ($0.key.local, $0.value) })
        address = try text(match.children(wsa, "EndpointReference").first?.children(wsa, "Address").first)
        types = try text(match.children(wsd, "Types").first)
        scopes = try text(match.children(wsd, "Scopes").first).split(separator: " ").map(String.init)
        xAddrs = try text(match.children(wsd, "XAddrs").first)
        metadataVersion = try text(match.children(wsd, "MetadataVersion").first)
        blockCounts = try text(match.children(PCCRD.Namespace.peerDist, "PeerDistData").first?.children(PCCRD.Namespace.peerDist, "BlockCount").first)
    }
}
