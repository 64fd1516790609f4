import Crypto

/// The hash functions Content Information can be built on.
///
/// Version 1 names SHA-256, SHA-384 or SHA-512 by their CryptoAPI `ALG_ID`; version 2 knows only
/// SHA-512 truncated to 32 bytes (`bHashAlgo` 0x04), where HMACs run on full SHA-512 and only the
/// output is truncated.
public enum HashAlgorithm: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case sha256
    case sha384
    case sha512
    case sha512Truncated

    /// Bytes in a digest, a segment secret and a segment ID.
    public var digestSize: Int {
        switch self {
        case .sha256, .sha512Truncated: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// The `dwHashAlgo` value of Content Information version 1 (CryptoAPI `CALG_SHA_*`).
    public var version1Code: UInt32? {
        switch self {
        case .sha256: 0x0000_800C
        case .sha384: 0x0000_800D
        case .sha512: 0x0000_800E
        case .sha512Truncated: nil
        }
    }

    public init?(version1Code: UInt32) {
        guard let match = Self.allCases.first(where: { $0.version1Code == version1Code }) else { return nil }
        self = match
    }

    /// The `bHashAlgo` value of Content Information version 2.
    public static let version2Code: UInt8 = 0x04

    public var description: String {
        switch self {
        case .sha256: "SHA-256"
        case .sha384: "SHA-384"
        case .sha512: "SHA-512"
        case .sha512Truncated: "SHA-512/256 (truncated)"
        }
    }

    /// The digest of `bytes`.
    public func digest(_ bytes: UnsafeRawBufferPointer) -> HashValue {
        switch self {
        case .sha256: HashValue(Self.oneShot(SHA256.self, bytes))
        case .sha384: HashValue(Self.oneShot(SHA384.self, bytes))
        case .sha512: HashValue(Self.oneShot(SHA512.self, bytes))
        case .sha512Truncated: Self.oneShot(SHA512.self, bytes).withUnsafeBytes { HashValue($0.prefix(32)) }
        }
    }

    public func digest(_ bytes: [UInt8]) -> HashValue {
        bytes.withUnsafeBytes { digest($0) }
    }

    /// HMAC (RFC 2104) over the algorithm's hash function; version 2 truncates the output to 32 bytes.
    public func authenticationCode(key: [UInt8], message: [UInt8]) -> HashValue {
        let key = SymmetricKey(data: key)
        switch self {
        case .sha256: return HashValue(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha384: return HashValue(HMAC<SHA384>.authenticationCode(for: message, using: key))
        case .sha512: return HashValue(HMAC<SHA512>.authenticationCode(for: message, using: key))
        case .sha512Truncated:
            return HMAC<SHA512>.authenticationCode(for: message, using: key).withUnsafeBytes { HashValue($0.prefix(32)) }
        }
    }

    private static func oneShot<H: HashFunction>(_: H.Type, _ bytes: UnsafeRawBufferPointer) -> H.Digest {
        var hasher = H()
        hasher.update(bufferPointer: bytes)
        return hasher.finalize()
    }
}
