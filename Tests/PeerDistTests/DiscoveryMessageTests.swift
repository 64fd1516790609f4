import NIOCore
import PeerDistHashing
import PeerDistWire
import Testing

@testable import PeerDist

/// LAN discovery datagrams: each message survives encoding, and a Hello's name is refused unless
/// it is the UTF-8 that was signed.
struct DiscoveryMessageTests {
    @Test func everyMessageSurvivesEncoding() throws {
        let identity = NodeIdentity.generate()
        let key = HashValue([UInt8](repeating: 3, count: 32))
        let messages: [DiscoveryMessage] = [
            .whoHas(nonce: 1, discoveryKey: key), .have(nonce: 2, discoveryKey: key, port: 7740),
            .hello(from: identity, port: 7740, name: "node"), .bye(from: identity),
        ]
        for message in messages {
            #expect(DiscoveryMessage(decoding: message.encoded()) == message)
            #expect(message.isAuthentic)
        }
    }

    /// Found by FuzzDiscovery: a Hello whose name is not UTF-8 was read with the bad bytes
    /// replaced, so the name was not the one signed and re-encoded to other (longer) bytes.
    @Test func aHelloWhoseNameIsNotUTF8IsDropped() throws {
        // The fuzzer's input: "PDDS" 1, Hello, nonce, identity, port, an 8-byte name with bytes
        // that are not UTF-8 (f6 82 9a …), signature.
        let datagram = try #require(Hex.decode(
            "504444530103de40501015daa6b954af287ec980861143294a540d3c0b1d4143217fd7a548deec44e8664a0211091e3c08"
                + "6e6ff6829a3f08fc"
                + "dd20ed93e6b3c56e8ae2a6c71a89cbfe32dcb20af0c9849d88c72ef72cacbe2201eed99182b147f6829a3f08fcdd20ed93e6b303c4ceb9fb6f73e5e4af353a07"
        ))
        #expect(datagram.count == 121)
        #expect(DiscoveryMessage(decoding: ByteBuffer(bytes: datagram)) == nil)
        // The same datagram with a UTF-8 name of the same length is a Hello.
        var valid = datagram
        valid.replaceSubrange(49..<57, with: Array("node-123".utf8))
        #expect(DiscoveryMessage(decoding: ByteBuffer(bytes: valid)) != nil)
    }

    /// A long name is cut to whole characters within the limit, so peers accept the Hello.
    @Test func aLongNameIsCutBetweenCharacters() throws {
        let name = String(repeating: "a", count: 63) + "é" + "tail"
        let hello = DiscoveryMessage.hello(from: .generate(), port: 1, name: name)
        let decoded = try #require(DiscoveryMessage(decoding: hello.encoded()))
        guard case .hello(_, _, _, let sent, _) = decoded else { Issue.record("not a Hello"); return }
        #expect(sent == String(repeating: "a", count: 63))
        #expect(decoded.isAuthentic)
    }
}
