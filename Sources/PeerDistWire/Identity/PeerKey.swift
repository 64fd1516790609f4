import CSodium
import Crypto
import Foundation
import PeerDistHashing

/// A peer's Ed25519 public key.
public struct PeerKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == Int(crypto_sign_BYTES), bytes.count == Self.byteCount else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), bytes) == 0
    }

    /// The first 80 bits of SHA-256 of the key in base32, grouped by four: `abcd-efgh-ijkl-mnop`.
    public var fingerprint: String {
        let digest = Array(SHA256.hash(data: bytes).prefix(10))
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var value: UInt128 = 0
        for byte in digest { value = value << 8 | UInt128(byte) }
        let characters = (0..<16).reversed().map { alphabet[Int(value >> UInt128($0 * 5) & 31)] }
        return stride(from: 0, to: 16, by: 4).map { String(characters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    public var description: String { fingerprint }
}
