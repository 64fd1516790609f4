import CSodium
import Crypto
import Foundation
import PeerDistHashing

/// A node's long-term Ed25519 key pair: what peers authenticate it by during the handshake.
///
/// Kept in `identity.key` (the 64-byte libsodium secret key, mode 0600) in the node's data
/// directory and created on first use. People compare nodes by `fingerprint`.
public struct NodeIdentity: Sendable {
    public let publicKey: PeerKey
    private let secretKey: [UInt8]

    public static let fileName = "identity.key"

    /// A fresh key pair.
    public static func generate() -> NodeIdentity {
        Sodium.ensureInitialized()
        var publicKey = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var secretKey = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        crypto_sign_keypair(&publicKey, &secretKey)
        return NodeIdentity(publicKey: PeerKey(publicKey), secretKey: secretKey)
    }

    private init(publicKey: PeerKey, secretKey: [UInt8]) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Loads the identity in `directory`, creating it (mode 0600) when there is none.
    public static func loadOrCreate(in directory: String) throws(WireError) -> NodeIdentity {
        let path = "\(directory)/\(fileName)"
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == Int(crypto_sign_SECRETKEYBYTES) else {
                throw WireError(.identity, "\(path) is not a PeerDist identity (expected \(crypto_sign_SECRETKEYBYTES) bytes, found \(data.count))")
            }
            var status = stat()
            if stat(path, &status) == 0, status.st_mode & 0o077 != 0 {
                throw WireError(.identity, "\(path) is readable by others (mode \(String(status.st_mode & 0o777, radix: 8))); run `chmod 600 \(path)`")
            }
            let secretKey = Array(data)
            // The public key is the second half of libsodium's secret key.
            return NodeIdentity(publicKey: PeerKey(Array(secretKey[32...])), secretKey: secretKey)
        }
        let identity = generate()
        try identity.write(to: path)
        return identity
    }

    private func write(to path: String) throws(WireError) {
        let temporary = "\(path).new-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw WireError.system(.identity, "cannot create \(temporary)") }
        defer { close(descriptor) }
        let written = secretKey.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == secretKey.count, fsync(descriptor) == 0, link(temporary, path) == 0 || errno == EEXIST else {
            let failure = WireError.system(.identity, "cannot write \(path)")
            unlink(temporary)
            throw failure
        }
        unlink(temporary)
    }

    /// An Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        crypto_sign_detached(&signature, nil, message, UInt64(message.count), secretKey)
        return signature
    }

    public var fingerprint: String { publicKey.fingerprint }
}
