import FuzzSupport
import PeerDistWire

/// The three handshake messages as each side receives them from a stranger.
///
/// Signatures cover every field, so mutated bytes alone stop at the first signature check; modes
/// 2 and 3 sign what the fuzzer chose with a known identity, as a hostile but well-behaved peer
/// would, so that versions, ciphers and ephemeral keys (low-order points among them) reach the
/// key agreement. The first byte picks the mode:
/// - 0: the server gets `helloLength(1) ClientHello ClientAuth`, raw;
/// - 1: the client gets a raw ServerHello;
/// - 2: the server gets a ClientHello from the input and a ClientAuth a real client signs for it;
/// - 3: the client gets a ServerHello whose first 71 bytes are the input's, its identity and
///   signature those of a real server.
/// Whatever keys come out must be two distinct 32-byte keys and name the peer that signed.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    switch Fuzzing.take(1, from: &bytes) % 4 {
    case 0:
        let length = min(Fuzzing.take(1, from: &bytes), bytes.count)
        var server = ServerHandshake(identity: serverIdentity)
        guard let serverHello = try? server.receive(clientHello: Array(bytes.prefix(length))) else { return }
        checkServerHello(serverHello)
        if let keys = try? server.receive(clientAuth: Array(bytes.dropFirst(length))) { checkKeys(keys, remote: nil) }
    case 1:
        let client = ClientHandshake(identity: clientIdentity)
        if let (auth, keys) = try? client.receive(serverHello: Array(bytes)) {
            Fuzzing.check(auth.count == Handshake.clientAuthSize, "a ClientAuth of \(auth.count) bytes")
            checkKeys(keys, remote: nil)
        }
    case 2:
        let clientHello = Array(bytes.prefix(Handshake.clientHelloSize))
        var server = ServerHandshake(identity: serverIdentity)
        guard let serverHello = try? server.receive(clientHello: clientHello) else { return }
        checkServerHello(serverHello)
        let identity = clientIdentity.publicKey.bytes
        let auth = identity + clientIdentity.sign(Handshake.clientSignedPart(clientHello: clientHello, serverHello: serverHello, clientIdentity: identity))
        do {
            checkKeys(try server.receive(clientAuth: auth), remote: clientIdentity.publicKey)
        } catch {
            // Only a degenerate ephemeral key may fail a properly signed ClientAuth.
            Fuzzing.check(error.message.contains("ephemeral key"), "a properly signed ClientAuth was refused: \(error)")
        }
    default:
        let client = ClientHandshake(identity: clientIdentity)
        var prefix = Array(bytes.prefix(39))
        prefix += [UInt8](repeating: 0, count: 39 - prefix.count) + serverIdentity.publicKey.bytes
        let serverHello = prefix + serverIdentity.sign(Handshake.serverSignedPart(clientHello: client.clientHello, serverHelloPrefix: prefix))
        if let (auth, keys) = try? client.receive(serverHello: serverHello) {
            Fuzzing.check(auth.count == Handshake.clientAuthSize, "a ClientAuth of \(auth.count) bytes")
            checkKeys(keys, remote: serverIdentity.publicKey)
        }
    }
}

let serverIdentity = NodeIdentity.generate()
let clientIdentity = NodeIdentity.generate()

func checkServerHello(_ hello: [UInt8]) {
    Fuzzing.check(hello.count == Handshake.serverHelloSize && hello.starts(with: Handshake.magic), "a malformed ServerHello of \(hello.count) bytes")
}

func checkKeys(_ keys: Handshake.Keys, remote: PeerKey?) {
    Fuzzing.check(keys.sending.count == 32 && keys.receiving.count == 32 && keys.sending != keys.receiving, "session keys are not two distinct 32-byte keys")
    Fuzzing.check(keys.cipher.isSupported, "the handshake agreed on cipher \(keys.cipher), which this node lacks")
    if let remote { Fuzzing.check(keys.remote == remote, "the keys name \(keys.remote), not the peer that signed") }
}

func makeSeeds() -> [String: [UInt8]] {
    let client = ClientHandshake(identity: clientIdentity)
    var server = ServerHandshake(identity: serverIdentity)
    var seeds: [String: [UInt8]] = [:]
    seeds["signed-client-hello"] = [2] + client.clientHello
    seeds["signed-server-hello-prefix"] = [3] + Array(client.clientHello.prefix(4)) + [0, 1, 1] + Array(client.clientHello[9..<41])
    guard let serverHello = try? server.receive(clientHello: client.clientHello),
          let (auth, _) = try? client.receive(serverHello: serverHello)
    else { return seeds }
    seeds["raw-client-hello-and-auth"] = [0, UInt8(client.clientHello.count)] + client.clientHello + auth
    seeds["raw-server-hello"] = [1] + serverHello
    seeds["not-peerdist"] = [0, 16] + Array("GET / HTTP/1.1\r\n".utf8)
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
