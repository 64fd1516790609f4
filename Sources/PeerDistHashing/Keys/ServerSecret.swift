import Crypto

/// A BranchCache server secret: the key from which segment secrets are derived.
///
/// Windows keeps an arbitrary byte string (32 random bytes by default) and hashes it before use:
/// `Ks = SHA-256(key)` for version 1 and `Ks = first32(SHA-512(key))` for version 2. Servers that
/// share a key produce the same segment IDs, so their clients form one swarm.
public struct ServerSecret: Sendable, Equatable {
    /// The key bytes as `netsh branchcache exportkey` protects them.
    public let keyBytes: [UInt8]

    public init(keyBytes: [UInt8]) {
        self.keyBytes = keyBytes
    }

    /// A passphrase, used as its UTF-8 bytes.
    ///
    /// Microsoft's protocol test suite encodes string secrets as UTF-16LE instead; to match such a
    /// server, give its key bytes in hex (`ServerSecret(hex:)`) or import its key-export file.
    public init(passphrase: String) {
        self.keyBytes = Array(passphrase.utf8)
    }

    /// Key bytes written as hexadecimal; `nil` when the text is not hex.
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.keyBytes = bytes
    }

    /// 32 fresh random bytes, as Windows generates for a new server.
    public static func random() -> ServerSecret {
        var generator = SystemRandomNumberGenerator()
        return ServerSecret(keyBytes: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Ks, the hashed secret that keys the segment-secret HMAC.
    ///
    /// Version 1 uses SHA-256 whatever the Content Information's own hash, as Microsoft's generator
    /// does; PeerDist writes only SHA-256 version 1 Content Information, where the two agree.
    public func hashedKey(for algorithm: HashAlgorithm) -> [UInt8] {
        switch algorithm {
        case .sha256, .sha384, .sha512: Array(SHA256.hash(data: keyBytes))
        case .sha512Truncated: Array(SHA512.hash(data: keyBytes).prefix(32))
        }
    }

    /// Compares in time independent of where the keys differ.
    public static func == (lhs: ServerSecret, rhs: ServerSecret) -> Bool {
        guard lhs.keyBytes.count == rhs.keyBytes.count else { return false }
        return zip(lhs.keyBytes, rhs.keyBytes).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
