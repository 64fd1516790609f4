import FuzzSupport
import NIOCore
import PeerDist
import PeerDistHashing
import PeerDistWire

/// A datagram on PeerDist's LAN discovery group, from anyone on the link: it decodes to a
/// `DiscoveryMessage` or is dropped. One that decodes must encode to a datagram that decodes to
/// the same message, and (for a Hello or Bye) be authentic only if its signature is.
func fuzz(_ input: [UInt8]) {
    guard let message = DiscoveryMessage(decoding: ByteBuffer(bytes: input)) else { return }
    let encoded = message.encoded()
    Fuzzing.check(DiscoveryMessage(decoding: encoded) == message, "decode → encode → decode changed \(message)")
    Fuzzing.check(encoded.readableBytesView.elementsEqual(input), "\(message) encodes to other bytes than it was decoded from")
    _ = message.isAuthentic
}

func makeSeeds() -> [String: [UInt8]] {
    let identity = NodeIdentity.generate()
    let key = HashValue([UInt8](repeating: 0x11, count: 32))
    let messages: [String: DiscoveryMessage] = [
        "who-has": .whoHas(nonce: 1, discoveryKey: key),
        "have": .have(nonce: 2, discoveryKey: key, port: 7740),
        "hello": .hello(from: identity, port: 7740, name: "node ✓"),
        "bye": .bye(from: identity),
        "who-is": .whoIs(nonce: 3, nameKey: key),
        "name-is": .nameIs(from: identity, nonce: 3, nameKey: key, record: Array("d1:c2:hi1:el18:\u{fd}\u{77}ee".utf8)),
    ]
    return messages.mapValues { Array($0.encoded().readableBytesView) }
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
