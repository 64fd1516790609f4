import Crypto
import Foundation
import Logging
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import PeerDistDHT

/// DHT nodes of PeerDist's own on loopback: lookups, announcements, BEP 44 puts and gets, and
/// what hostile input does to a node's state. (Interoperation with libtorrent's DHT is in the
/// CLI tests, in network namespaces.)
@Suite struct DHTNodeTests {
    /// `count` nodes on 127.0.0.1, each joined through the first; cancelled when `body` ends.
    func withNetwork(of count: Int, _ body: ([DHTNode]) async throws -> Void) async throws {
        var nodes: [DHTNode] = []
        var tasks: [Task<Void, Never>] = []
        defer { for task in tasks { task.cancel() } }
        for index in 0..<count {
            var configuration = DHTNode.Configuration()
            configuration.host = "127.0.0.1"
            configuration.bootstrap = index == 0 ? [] : ["127.0.0.1:\(nodes[0].boundPort ?? 0)"]
            configuration.queryTimeout = .milliseconds(500)
            let node = DHTNode(configuration: configuration, logger: Logger(label: "dht-test"))
            tasks.append(Task { try? await node.run() })
            for _ in 0..<100 where node.boundPort == nil { try await Task.sleep(for: .milliseconds(20)) }
            nodes.append(node)
        }
        // Everyone has joined: each knows some others, and a second round of lookups spreads them.
        for node in nodes.dropFirst() {
            for _ in 0..<100 where node.routingTableSize.ipv4 == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        for node in nodes { _ = await node.lookup(node.nodeID, kind: .findNode) }
        try await body(nodes)
    }

    @Test func nodesFindEachOtherAndAnnouncedPeers() async throws {
        try await withNetwork(of: 12) { nodes in
            #expect(nodes.allSatisfy { $0.routingTableSize.ipv4 > 0 })
            let infoHash = NodeID.sha1(Array("some content".utf8))
            let accepted = await nodes[5].announce(infoHash, port: 7740)
            #expect(accepted > 0)
            let found = await nodes[11].findPeers(of: infoHash)
            #expect(found.peers.contains(DHTEndpoint(address: [127, 0, 0, 1], port: 7740)!))
            #expect(found.queries > 0)
            let nothing = await nodes[3].findPeers(of: NodeID.sha1(Array("other".utf8)))
            #expect(nothing.peers.isEmpty)
        }
    }

    @Test func mutableItemsPutAndGetWithIncreasingSequenceNumbers() async throws {
        try await withNetwork(of: 10) { nodes in
            let key = Curve25519.Signing.PrivateKey()
            let publicKey = Array(key.publicKey.rawRepresentation)
            let sign: ([UInt8]) -> [UInt8] = { Array(try! key.signature(for: $0)) }
            let first = try await nodes[2].putMutable(value: .string("first"), key: publicKey, salt: Array("name".utf8), sign: sign)
            #expect(first.stored > 0)
            let got = await nodes[9].getMutable(key: publicKey, salt: Array("name".utf8))
            #expect(got.item?.value == .string("first"))
            let second = try await nodes[4].putMutable(value: .string("second"), key: publicKey, salt: Array("name".utf8), sign: sign)
            #expect((second.item.seq ?? 0) > (first.item.seq ?? 0))
            let newer = await nodes[7].getMutable(key: publicKey, salt: Array("name".utf8))
            #expect(newer.item?.value == .string("second"))
            // Another salt is another item.
            let otherSalt = await nodes[7].getMutable(key: publicKey, salt: Array("other".utf8))
            #expect(otherSalt.item == nil)
        }
    }

    @Test func storageRefusesForgedAndOlderItems() throws {
        var storage = NodeStorage()
        let key = Curve25519.Signing.PrivateKey()
        let publicKey = Array(key.publicKey.rawRepresentation)
        let sign: ([UInt8]) -> [UInt8] = { Array(try! key.signature(for: $0)) }
        let now = ContinuousClock.now
        let second = DHTItem.signed(value: .string("b"), seq: 2, salt: [], key: publicKey, sign: sign)
        try storage.put(second, cas: nil, now: now)
        let first = DHTItem.signed(value: .string("a"), seq: 1, salt: [], key: publicKey, sign: sign)
        #expect(throws: NodeStorage.PutRefusal.sequenceNotNewer) { try storage.put(first, cas: nil, now: now) }
        var forged = DHTItem.signed(value: .string("c"), seq: 3, salt: [], key: publicKey, sign: sign)
        forged.value = .string("evil")
        #expect(throws: NodeStorage.PutRefusal.badSignature) { try storage.put(forged, cas: nil, now: now) }
        let third = DHTItem.signed(value: .string("c"), seq: 3, salt: [], key: publicKey, sign: sign)
        #expect(throws: NodeStorage.PutRefusal.casMismatch) { try storage.put(third, cas: 1, now: now) }
        try storage.put(third, cas: 2, now: now)
        #expect(storage.item(at: third.target, now: now)?.value == .string("c"))
    }

    @Test func writeTokensAreBoundToTheAddressAndExpire() {
        let start = ContinuousClock.now
        var tokens = WriteTokens(now: start)
        let token = tokens.token(for: [10, 0, 0, 1], now: start)
        let fresh = tokens.isValid(token, for: [10, 0, 0, 1], now: start)
        let elsewhere = tokens.isValid(token, for: [10, 0, 0, 2], now: start)
        let afterOneRotation = tokens.isValid(token, for: [10, 0, 0, 1], now: start + .seconds(400))
        let afterThree = tokens.isValid(token, for: [10, 0, 0, 1], now: start + .seconds(1300))
        #expect(fresh)
        #expect(!elsewhere)
        #expect(afterOneRotation)
        #expect(!afterThree)
    }

    /// Floods of well-formed and malformed queries from many addresses: the node answers what it
    /// should, drops the rest, and its state stays within its bounds.
    @Test func hostileInputLeavesStateBounded() throws {
        let node = DHTNode(configuration: DHTNode.Configuration(), logger: Logger(label: "dht-test"))
        var generator = SystemRandomNumberGenerator()
        let own = NodeID.random()
        var answered = 0
        for round in 0..<8000 {
            let address = try SocketAddress(ipAddress: "10.\(round % 200).\(round / 200 % 250).\(round % 7 + 1)", port: 6881)
            let datagram: [UInt8]
            switch round % 8 {
            case 0:
                datagram = KRPCMessage(transactionID: [1], body: .query(.announcePeer(id: .random(), infoHash: .random(), port: 1, token: [1, 2, 3], impliedPort: false))).encoded
            case 1:
                let item = PutArguments(value: .string("x"), key: [UInt8](repeating: UInt8(round % 256), count: 32), signature: [UInt8](repeating: 0, count: 64), seq: 1)
                datagram = KRPCMessage(transactionID: [2], body: .query(.put(id: .random(), token: [0], item: item))).encoded
            case 2:
                datagram = Array(repeating: UInt8(ascii: "l"), count: 3000) + Array(repeating: UInt8(ascii: "e"), count: 3000)
            case 3:
                datagram = Array("d1:t2:aa1:y1:q1:q4:ping1:ad2:id5:shortee".utf8)
            case 4:
                datagram = Array("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe999999999:".utf8)
            case 5:
                datagram = (0..<Int.random(in: 1...1400, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 6:
                // Answers to nothing this node asked.
                var response = KRPCResponse(id: .random())
                response.nodes = (0..<8).map { _ in DHTNodeInfo(id: .random(), endpoint: DHTEndpoint(address: [10, 9, 9, 9], port: 1)!) }
                datagram = KRPCMessage(transactionID: [UInt8(round % 256), 7], body: .response(response)).encoded
            default:
                datagram = KRPCMessage(transactionID: [3], body: .query(.findNode(id: .random(), target: own, want: []))).encoded
            }
            if let reply = node.receive(datagram, from: address) {
                answered += 1
                #expect((try? KRPCMessage(decoding: reply)) != nil)
            }
        }
        let footprint = node.memoryFootprint
        #expect(answered > 0)
        #expect(footprint.infoHashes == 0, "announces with bad tokens were stored")
        #expect(footprint.items == 0, "puts with bad tokens or signatures were stored")
        #expect(footprint.pendingQueries == 0)
        #expect(footprint.routingTableNodes <= 160 * 8 * 2)
        #expect(footprint.rateLimitedAddresses <= 4096)
    }

    @Test func oneAddressIsRateLimited() throws {
        let node = DHTNode(configuration: DHTNode.Configuration(), logger: Logger(label: "dht-test"))
        let address = try SocketAddress(ipAddress: "10.0.0.1", port: 6881)
        let ping = KRPCMessage(transactionID: [1], body: .query(.ping(id: .random()))).encoded
        let answers = (0..<1000).filter { _ in node.receive(ping, from: address) != nil }.count
        #expect(answers >= 100)
        #expect(answers < 1000)
        #expect(node.counters.queriesRateLimited.load(ordering: .relaxed) > 0)
    }

    /// BEP 42: a node learns its public address from the `ip` field of the responses it gets, and
    /// then takes a node ID derived from that address, once; a later, different report does not
    /// move it again. The responder here is a bare UDP socket speaking KRPC by hand.
    @Test func aNodeTakesAnIDBoundToThePublicAddressOthersReport() async throws {
        let responder = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(responder >= 0)
        defer { close(responder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(responder, $0, length) == 0 && getsockname(responder, $0, &length) == 0 }
        }
        try #require(bound)
        // Generous: a node under a sanitizer on a loaded machine may take seconds to send.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(responder, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var configuration = DHTNode.Configuration()
        configuration.host = "127.0.0.1"
        configuration.bootstrap = ["127.0.0.1:\(UInt16(bigEndian: address.sin_port))"]
        configuration.queryTimeout = .seconds(30)
        let node = DHTNode(configuration: configuration, logger: Logger(label: "dht-test"))
        let task = Task { try? await node.run() }
        defer { task.cancel() }

        let publicAddress = try #require(DHTEndpoint(address: [203, 0, 113, 7], port: 6881))
        let otherAddress = try #require(DHTEndpoint(address: [198, 51, 100, 9], port: 6881))
        /// Receives one query from the node and answers it, reporting `observed` as its address,
        /// on a thread of its own: blocking the cooperative pool could keep the node from running.
        func answerOne(reporting observed: DHTEndpoint) async throws {
            let answered: Bool = await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: (try? receiveAndAnswer(reporting: observed)) != nil) }.start()
            }
            try #require(answered, "the node sent no query")
        }
        @Sendable func receiveAndAnswer(reporting observed: DHTEndpoint) throws {
            while true {
                var buffer = [UInt8](repeating: 0, count: 2048)
                var sender = sockaddr_in()
                var senderLength = socklen_t(MemoryLayout<sockaddr_in>.size)
                let received = withUnsafeMutablePointer(to: &sender) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(responder, &buffer, buffer.count, 0, $0, &senderLength) }
                }
                guard received > 0 else { throw CancellationError() }
                let query = try KRPCMessage(decoding: buffer.prefix(received))
                guard case .query = query.body else { continue }
                let bytes = KRPCMessage(transactionID: query.transactionID, body: .response(KRPCResponse(id: NodeID.random())), observedAddress: observed).encoded
                _ = withUnsafePointer(to: &sender) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(responder, bytes, bytes.count, 0, $0, senderLength) }
                }
                return
            }
        }
        // The node's bootstrap query learns the public address.
        try await answerOne(reporting: publicAddress)
        for _ in 0..<1500 where !NodeIDRules.isValid(node.nodeID, for: publicAddress) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(NodeIDRules.isValid(node.nodeID, for: publicAddress), "the node kept an ID not bound to \(publicAddress)")
        // A lookup's query hears of another address; the ID stays.
        let lookup = Task { _ = await node.lookup(NodeID.random(), kind: .findNode) }
        defer { lookup.cancel() }
        try await answerOne(reporting: otherAddress)
        try await Task.sleep(for: .milliseconds(200))
        #expect(NodeIDRules.isValid(node.nodeID, for: publicAddress), "a second report moved the ID")
        #expect(!NodeIDRules.isValid(node.nodeID, for: otherAddress))
    }
}
