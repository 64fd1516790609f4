import Testing
@testable import PeerDistDHT

/// KRPC messages as BEP 5 and BEP 44 spell them.
@Suite struct KRPCTests {
    func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// BEP 5's own examples decode, and encode back to the same bytes.
    @Test(arguments: [
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
        "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
        "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
        "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
        "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
        "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
        "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
    ])
    func bep5ExamplesRoundTrip(text: String) throws {
        let message = try KRPCMessage(decoding: Array(text.utf8))
        #expect(message.encoded == Array(text.utf8))
        #expect(message.transactionID == Array("aa".utf8))
    }

    @Test func decodesTheFieldsOfAnnouncePeer() throws {
        let text = "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"
        let message = try KRPCMessage(decoding: Array(text.utf8))
        guard case .query(.announcePeer(let id, let infoHash, let port, let token, let implied)) = message.body else {
            Issue.record("not an announce_peer: \(message.body)")
            return
        }
        #expect(id.bytes == Array("abcdefghij0123456789".utf8))
        #expect(infoHash.bytes == Array("mnopqrstuvwxyz123456".utf8))
        #expect(port == 6881)
        #expect(token == Array("aoeusnth".utf8))
        #expect(implied)
    }

    @Test func roundTripsEveryMessageKind() throws {
        let id = NodeID.random()
        let target = NodeID.random()
        let v4 = try #require(DHTEndpoint(address: [10, 0, 0, 1], port: 6881))
        let v6 = try #require(DHTEndpoint(address: [0xfd] + [UInt8](repeating: 1, count: 15), port: 7740))
        var response = KRPCResponse(id: id)
        response.nodes = [DHTNodeInfo(id: target, endpoint: v4)]
        response.nodes6 = [DHTNodeInfo(id: target, endpoint: v6)]
        response.values = [v4, v6]
        response.token = [1, 2, 3, 4]
        response.value = ["a": .integer(1)]
        response.key = [UInt8](repeating: 7, count: 32)
        response.signature = [UInt8](repeating: 8, count: 64)
        response.seq = 9
        let bodies: [KRPCMessage.Body] = [
            .query(.ping(id: id)),
            .query(.findNode(id: id, target: target, want: [.ipv4, .ipv6])),
            .query(.getPeers(id: id, infoHash: target, want: [.ipv6])),
            .query(.announcePeer(id: id, infoHash: target, port: 7740, token: [9, 9], impliedPort: false)),
            .query(.get(id: id, target: target, seq: 4, want: [])),
            .query(.put(id: id, token: [1], item: PutArguments(value: .string("x"), key: [UInt8](repeating: 1, count: 32), signature: [UInt8](repeating: 2, count: 64), seq: 3, salt: Array("salt".utf8), cas: 2))),
            .query(.put(id: id, token: [1], item: PutArguments(value: .list([.integer(1)])))),
            .query(.unknown(method: Array("sample_infohashes".utf8), id: id)),
            .response(response),
            .error(code: 204, message: "Method Unknown"),
        ]
        for body in bodies {
            let message = KRPCMessage(transactionID: [0, 1], body: body, clientVersion: [0x50, 0x44, 0, 1], observedAddress: v4, readOnly: true)
            #expect(try KRPCMessage(decoding: message.encoded) == message)
        }
    }

    @Test func refusesFieldsOfTheWrongSizeOrType() {
        let cases = [
            "d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe",
            "d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe",
            "d1:rd2:id20:mnopqrstuvwxyz1234565:nodes3:abce1:t2:aa1:y1:re",
            "d1:ad2:id20:abcdefghij01234567894:porti70000e9:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
            "d1:ad2:id20:abcdefghij01234567891:k3:abc5:tokeni1e1:v1:xe1:q3:put1:t2:aa1:y1:qe",
            "d1:t2:aa1:y1:xe",
        ]
        for text in cases {
            #expect(throws: KRPCError.self, "\(text)") { try KRPCMessage(decoding: Array(text.utf8)) }
        }
    }

    @Test func refusesValuesLargerThanBEP44Allows() throws {
        let value = Bencode.bytes([UInt8](repeating: 0x41, count: 1000))
        let put = KRPCMessage(transactionID: [1], body: .query(.put(id: .random(), token: [1], item: PutArguments(value: value))))
        do {
            _ = try KRPCMessage(decoding: put.encoded)
            Issue.record("a 1005-byte value was accepted")
        } catch {
            #expect(error.code == KRPCMessage.ErrorCode.valueTooLarge)
            #expect(error.transactionID == [1])
        }
    }

    /// BEP 44's test vectors: the signature of "Hello World!" under its example key, without and with a salt.
    @Test func bep44TestVectorsVerify() throws {
        let key = hex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548")
        let plain = DHTItem(
            value: .string("Hello World!"), key: key,
            signature: hex("305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01"),
            seq: 1)
        #expect(plain.hasValidSignature)
        #expect(plain.target.hex == "4a533d47ec9c7d95b1ad75f576cffc641853b750")
        let salted = DHTItem(
            value: .string("Hello World!"), key: key,
            signature: hex("6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08"),
            seq: 1, salt: Array("foobar".utf8))
        #expect(salted.hasValidSignature)
        #expect(salted.target.hex == "411eba73b6f087ca51a3795d9c8c938d365e32c1")
        var forged = salted
        forged.seq = 2
        #expect(!forged.hasValidSignature)
        #expect(DHTItem(value: .string("Hello World!")).target.hex == "e5f96f6f38320f0f33959cb4d3d656452117aadb")
    }

    /// BEP 42's examples: an ID's first 21 bits and its last byte follow from the address.
    @Test(arguments: [
        ("124.31.75.21", 1, "5fbfbf"), ("21.75.31.124", 86, "5a3ce9"), ("65.23.51.170", 22, "a5d432"),
        ("84.124.73.14", 65, "1b0321"), ("43.213.53.83", 90, "e56f6c"),
    ])
    func bep42ExampleIDs(address: String, random: Int, prefix: String) throws {
        let bytes = address.split(separator: ".").map { UInt8($0)! }
        let id = NodeIDRules.nodeID(for: bytes, random: UInt8(random), rest: [UInt8](repeating: 0, count: 17))
        #expect(Array(id.hex.prefix(5)) == Array(prefix.prefix(5)))
        #expect(id.bytes[19] == UInt8(random))
        let endpoint = try #require(DHTEndpoint(address: bytes, port: 1))
        #expect(NodeIDRules.isValid(id, for: endpoint))
        #expect(!NodeIDRules.isValid(NodeID(unchecked: [UInt8](repeating: 0, count: 19) + [UInt8(random)]), for: endpoint))
    }

    @Test func contentKeysAreTwentyBytesAndDependOnTheDiscoveryKey() {
        let a = ContentKeys.infoHash(forDiscoveryKey: [UInt8](repeating: 1, count: 32))
        let b = ContentKeys.infoHash(forDiscoveryKey: [UInt8](repeating: 2, count: 32))
        #expect(a != b)
        #expect(a.bytes.count == 20)
        #expect(a == ContentKeys.infoHash(forDiscoveryKey: [UInt8](repeating: 1, count: 32)))
    }

    /// Found by FuzzKRPC: a query whose method name is not UTF-8 came back with another name.
    @Test func anUnknownMethodThatIsNotUTF8SurvivesItsOwnEncoding() throws {
        let hex = "64313a6164323a696432303a6162636465666768696a3031323334353637383931323a696d706c6965645f706f7274693165393a696e666f5fff61736832303a6d6e6f707172737475767778797a313223343536343a706f7274693737343065353a746f6b656e343a0102030465313a7131333a616e6e6f756e9d935f70656572313a74323a6161313a76343a50440001313a79313a7165"
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(try #require(UInt8(hex[index..<next], radix: 16)))
            index = next
        }
        let message = try KRPCMessage(decoding: bytes[...])
        #expect(try KRPCMessage(decoding: message.encoded[...]) == message)
    }
}
