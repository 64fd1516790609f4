import CSodium
import Crypto
import PeerDistHashing

/// The authenticated key exchange that opens every PeerDist connection (see docs/PROTOCOL.md).
///
/// ```
/// client → server  ClientHello  "PDST" minVersion(2) maxVersion(2) ciphers(1) ephemeral(32) random(16)
/// server → client  ServerHello  "PDST" version(2) cipher(1) ephemeral(32) identity(32) signature(64)
/// client → server  ClientAuth   identity(32) signature(64)
/// ```
/// Each side signs a hash of the transcript so far with its Ed25519 identity, which binds both
/// ephemeral X25519 keys to both identities. Session keys come from HKDF-SHA-256 over the X25519
/// secret, salted with the whole transcript, one record key and one block secret per direction.
///
/// Version 2 seals each block once per hop (see `RecordSealer`); version 1 sealed it twice, and
/// a version 1 peer is refused with an error that says so.
package enum Handshake {
    package static let magic = Array("PDST".utf8)
    package static let protocolVersion: UInt16 = 2
    package static let clientHelloSize = 4 + 2 + 2 + 1 + 32 + 16
    package static let serverHelloSize = 4 + 2 + 1 + 32 + 32 + 64
    package static let clientAuthSize = 32 + 64

    package struct Keys {
        package let cipher: RecordCipher.Algorithm
        package let sending: [UInt8]
        package let receiving: [UInt8]
        /// What each direction mixes into the keys its blocks are sealed under.
        package let sendingBlockSecret: [UInt8]
        package let receivingBlockSecret: [UInt8]
        package let remote: PeerKey
    }

    /// An X25519 key pair used for one connection only.
    struct Ephemeral {
        let publicKey: [UInt8]
        let secretKey: [UInt8]

        init() {
            secretKey = Sodium.randomBytes(32)
            var publicKey = [UInt8](repeating: 0, count: 32)
            crypto_scalarmult_curve25519_base(&publicKey, secretKey)
            self.publicKey = publicKey
        }

        func sharedSecret(with peer: [UInt8]) throws(WireError) -> [UInt8] {
            var shared = [UInt8](repeating: 0, count: 32)
            // Fails for low-order points, which would make the secret predictable.
            guard crypto_scalarmult_curve25519(&shared, secretKey, peer) == 0 else {
                throw WireError("the peer's ephemeral key is invalid")
            }
            return shared
        }
    }

    package static func serverSignedPart(clientHello: [UInt8], serverHelloPrefix: [UInt8]) -> [UInt8] {
        Array("PeerDist handshake v1 server".utf8) + Array(SHA256.hash(data: clientHello + serverHelloPrefix))
    }

    package static func clientSignedPart(clientHello: [UInt8], serverHello: [UInt8], clientIdentity: [UInt8]) -> [UInt8] {
        Array("PeerDist handshake v1 client".utf8) + Array(SHA256.hash(data: clientHello + serverHello + clientIdentity))
    }

    /// Why a peer of another protocol version is refused, in words a user can act on.
    static func versionMismatch(peer: String) -> String {
        "the peer speaks PeerDist protocol version \(peer) and this node speaks version \(protocolVersion) only "
            + "(version 2 seals blocks once per hop; versions do not interoperate): run the same PeerDist release on both"
    }

    static func sessionKeys(shared: [UInt8], transcript: [UInt8], isClient: Bool, cipher: RecordCipher.Algorithm, remote: PeerKey) -> Keys {
        let salt = Array(SHA256.hash(data: transcript))
        func derive(_ label: String) -> [UInt8] {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: shared), salt: salt, info: Array(label.utf8), outputByteCount: 32
            ).withUnsafeBytes { Array($0) }
        }
        let clientToServer = derive("PeerDist v1 client to server")
        let serverToClient = derive("PeerDist v1 server to client")
        let clientBlocks = derive("PeerDist v2 block secret client to server")
        let serverBlocks = derive("PeerDist v2 block secret server to client")
        return Keys(
            cipher: cipher, sending: isClient ? clientToServer : serverToClient,
            receiving: isClient ? serverToClient : clientToServer,
            sendingBlockSecret: isClient ? clientBlocks : serverBlocks, receivingBlockSecret: isClient ? serverBlocks : clientBlocks,
            remote: remote)
    }
}

/// The client's side: sends ClientHello, checks ServerHello, answers with ClientAuth.
package struct ClientHandshake {
    private let identity: NodeIdentity
    private let ephemeral = Handshake.Ephemeral()
    package let clientHello: [UInt8]

    package init(identity: NodeIdentity) {
        self.identity = identity
        var hello = Handshake.magic
        hello += [UInt8(Handshake.protocolVersion >> 8), UInt8(Handshake.protocolVersion & 0xFF)]
        hello += [UInt8(Handshake.protocolVersion >> 8), UInt8(Handshake.protocolVersion & 0xFF)]
        hello.append(RecordCipher.Algorithm.supportedMask)
        hello += ephemeral.publicKey
        hello += Sodium.randomBytes(16)
        clientHello = hello
    }

    /// Checks the server's hello; returns the ClientAuth to send and the session keys.
    package func receive(serverHello: [UInt8]) throws(WireError) -> (clientAuth: [UInt8], keys: Handshake.Keys) {
        guard serverHello.count == Handshake.serverHelloSize, Array(serverHello.prefix(4)) == Handshake.magic else {
            throw WireError("the peer did not answer with a PeerDist ServerHello")
        }
        let version = UInt16(serverHello[4]) << 8 | UInt16(serverHello[5])
        guard version == Handshake.protocolVersion else {
            throw WireError(Handshake.versionMismatch(peer: "\(version)"))
        }
        guard let cipher = RecordCipher.Algorithm(rawValue: serverHello[6]), cipher.isSupported else {
            throw WireError("the peer chose cipher \(serverHello[6]), which this node does not offer")
        }
        let serverEphemeral = Array(serverHello[7..<39])
        let serverIdentity = PeerKey(Array(serverHello[39..<71]))
        let signature = Array(serverHello[71...])
        let signed = Handshake.serverSignedPart(clientHello: clientHello, serverHelloPrefix: Array(serverHello[..<71]))
        guard serverIdentity.isValidSignature(signature, for: signed) else {
            throw WireError("the peer's handshake signature is invalid")
        }
        let shared = try ephemeral.sharedSecret(with: serverEphemeral)
        let clientAuth = identity.publicKey.bytes
            + identity.sign(Handshake.clientSignedPart(clientHello: clientHello, serverHello: serverHello, clientIdentity: identity.publicKey.bytes))
        let keys = Handshake.sessionKeys(
            shared: shared, transcript: clientHello + serverHello + clientAuth, isClient: true, cipher: cipher, remote: serverIdentity)
        return (clientAuth, keys)
    }
}

/// The server's side: answers ClientHello, then checks ClientAuth.
package struct ServerHandshake {
    private let identity: NodeIdentity
    private let ephemeral = Handshake.Ephemeral()
    private var clientHello: [UInt8] = []
    private var serverHello: [UInt8] = []
    private var cipher = RecordCipher.Algorithm.aes256GCM

    package init(identity: NodeIdentity) {
        self.identity = identity
    }

    package mutating func receive(clientHello: [UInt8]) throws(WireError) -> [UInt8] {
        guard clientHello.count == Handshake.clientHelloSize, Array(clientHello.prefix(4)) == Handshake.magic else {
            throw WireError("the peer did not open with a PeerDist ClientHello")
        }
        let minimum = UInt16(clientHello[4]) << 8 | UInt16(clientHello[5])
        let maximum = UInt16(clientHello[6]) << 8 | UInt16(clientHello[7])
        guard minimum <= Handshake.protocolVersion, Handshake.protocolVersion <= maximum else {
            throw WireError(Handshake.versionMismatch(peer: minimum == maximum ? "\(minimum)" : "\(minimum)–\(maximum)"))
        }
        guard let chosen = RecordCipher.Algorithm.choose(offered: clientHello[8]) else {
            throw WireError("the peer offers no cipher this node supports")
        }
        cipher = chosen
        self.clientHello = clientHello
        var hello = Handshake.magic
        hello += [UInt8(Handshake.protocolVersion >> 8), UInt8(Handshake.protocolVersion & 0xFF), cipher.rawValue]
        hello += ephemeral.publicKey
        hello += identity.publicKey.bytes
        hello += identity.sign(Handshake.serverSignedPart(clientHello: clientHello, serverHelloPrefix: hello))
        serverHello = hello
        return hello
    }

    package func receive(clientAuth: [UInt8]) throws(WireError) -> Handshake.Keys {
        guard clientAuth.count == Handshake.clientAuthSize else { throw WireError("the peer's ClientAuth has \(clientAuth.count) bytes, not 96") }
        let clientIdentity = PeerKey(Array(clientAuth[..<32]))
        let signed = Handshake.clientSignedPart(clientHello: clientHello, serverHello: serverHello, clientIdentity: clientIdentity.bytes)
        guard clientIdentity.isValidSignature(Array(clientAuth[32...]), for: signed) else {
            throw WireError("the peer's handshake signature is invalid")
        }
        let shared = try ephemeral.sharedSecret(with: Array(clientHello[9..<41]))
        return Handshake.sessionKeys(
            shared: shared, transcript: clientHello + serverHello + clientAuth, isClient: false, cipher: cipher, remote: clientIdentity)
    }
}
