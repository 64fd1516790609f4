import FuzzSupport
import Foundation
import NIOCore
import Logging
import PeerDistDHT

/// Mainline DHT input: bencoding and KRPC datagrams as any node on the Internet may send them,
/// and the DHT node that answers them.
///
/// Properties: whatever decodes re-encodes to bytes that decode to an equal value (and, for
/// bencoding, to the input itself: the decoder accepts only canonical input); the node answers
/// every datagram with at most one well-formed KRPC message and its state stays within bounds.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    switch Fuzzing.take(1, from: &bytes) % 3 {
    case 0:
        guard let value = try? BencodeDecoder(limits: .datagram).decode(bytes) else { return }
        Fuzzing.check(value.encoded == Array(bytes), "bencoding decoded from non-canonical bytes")
    case 1:
        guard let message = try? KRPCMessage(decoding: bytes) else { return }
        let again = try? KRPCMessage(decoding: message.encoded)
        Fuzzing.check(again == message, "a KRPC message does not survive its own encoding")
    default:
        let address = try! SocketAddress(ipAddress: "192.0.2.\(Fuzzing.take(1, from: &bytes))", port: 6881)
        if let reply = node.receive(Array(bytes), from: address) {
            Fuzzing.check((try? KRPCMessage(decoding: reply)) != nil, "the node answered with a message it cannot read")
        }
        let footprint = node.memoryFootprint
        Fuzzing.check(footprint.routingTableNodes <= 2 * 160 * 8 && footprint.items <= 2000 && footprint.infoHashes <= 2000, "DHT state outgrew its bounds")
    }
}

let node = DHTNode(configuration: DHTNode.Configuration(), logger: Logger(label: "fuzz"))

func makeSeeds() -> [String: [UInt8]] {
    let id = NodeID(Array("abcdefghij0123456789".utf8))!
    let target = NodeID(Array("mnopqrstuvwxyz123456".utf8))!
    let peer = DHTEndpoint(address: [10, 1, 2, 3], port: 7740)!
    var response = KRPCResponse(id: id)
    response.nodes = [DHTNodeInfo(id: target, endpoint: peer)]
    response.values = [peer]
    response.token = Array("aoeusnth".utf8)
    let messages: [String: KRPCMessage.Body] = [
        "ping": .query(.ping(id: id)),
        "find_node": .query(.findNode(id: id, target: target, want: [.ipv4, .ipv6])),
        "get_peers": .query(.getPeers(id: id, infoHash: target, want: [])),
        "announce_peer": .query(.announcePeer(id: id, infoHash: target, port: 7740, token: [1, 2, 3, 4], impliedPort: true)),
        "get": .query(.get(id: id, target: target, seq: 1, want: [])),
        "put": .query(.put(id: id, token: [1], item: PutArguments(
            value: .string("Hello World!"), key: [UInt8](repeating: 3, count: 32), signature: [UInt8](repeating: 4, count: 64), seq: 1, salt: Array("foobar".utf8)))),
        "response": .response(response),
        "error": .error(code: 201, message: "A Generic Error Ocurred"),
    ]
    var seeds: [String: [UInt8]] = [:]
    for (name, body) in messages {
        let encoded = KRPCMessage(transactionID: Array("aa".utf8), body: body, clientVersion: [0x50, 0x44, 0, 1]).encoded
        seeds["bencode-\(name)"] = [0] + encoded
        seeds["krpc-\(name)"] = [1] + encoded
        seeds["node-\(name)"] = [2, 7] + encoded
    }
    seeds["bencode-nested"] = [0] + Array("d1:ald1:bli1ei-2e3:xyzeee1:c0:e".utf8)
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
