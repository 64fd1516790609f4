import Crypto
import CryptoExtras
import Foundation
import PeerDistHashing

/// How MS-PCCRR encrypts a block in MSG_BLK: AES-CBC at the size the CryptoAlgoId names, keyed
/// from the segment secret Kp, PKCS#7 padding, a fresh random IV sent after the ciphertext.
///
/// Which bytes of Kp make the key is the one point the sources disagree on (see the protocol
/// reference, §3.5): iPXE, which works against Windows peers, takes the leading 16/24/32 bytes;
/// Microsoft's test suite hands AES all 32 bytes whatever the header says. The leading bytes are
/// the default; a receiver that fails to verify a block tries the other rule once.
public struct PCCRRBlockCipher: Hashable, Sendable {
    public enum KeyRule: String, Hashable, Sendable, CaseIterable {
        /// The first 16, 24 or 32 bytes of Kp, by CryptoAlgoId (iPXE).
        case leadingBytes = "leading"
        /// AES-256 with all 32 bytes of Kp, whatever CryptoAlgoId says (Microsoft's test suite).
        case wholeSecret = "whole"
    }

    public var keyRule: KeyRule

    public init(keyRule: KeyRule = .leadingBytes) {
        self.keyRule = keyRule
    }

    /// The AES key for a segment, or `nil` when Kp is too short for it (never for SHA-256 or
    /// version 2 content, whose Kp is 32 bytes).
    public func key(for algorithm: PCCRRCryptoAlgorithm, segmentSecret: HashValue) -> SymmetricKey? {
        let size = keyRule == .wholeSecret ? 32 : algorithm.keyByteCount
        guard size > 0, segmentSecret.count >= size else { return nil }
        return SymmetricKey(data: segmentSecret.bytes.prefix(size))
    }

    /// Encrypts a block with a fresh random IV; returns the ciphertext and the IV. With
    /// `.none`, the block as it is and no IV.
    public func encrypt(
        _ plaintext: [UInt8], algorithm: PCCRRCryptoAlgorithm, segmentSecret: HashValue
    ) throws(BranchCacheError) -> (block: [UInt8], initializationVector: [UInt8]) {
        guard algorithm != .none else { return (plaintext, []) }
        var iv = [UInt8](repeating: 0, count: PCCRR.Limits.initializationVectorBytes)
        var generator = SystemRandomNumberGenerator()
        for index in iv.indices { iv[index] = generator.next() }
        return (try encrypt(plaintext, algorithm: algorithm, segmentSecret: segmentSecret, initializationVector: iv), iv)
    }

    /// Encrypts with a given IV (tests, and replays of known vectors).
    public func encrypt(
        _ plaintext: [UInt8], algorithm: PCCRRCryptoAlgorithm, segmentSecret: HashValue, initializationVector: [UInt8]
    ) throws(BranchCacheError) -> [UInt8] {
        guard algorithm != .none else { return plaintext }
        guard let key = key(for: algorithm, segmentSecret: segmentSecret) else {
            throw BranchCacheError(.undecryptable, "a \(segmentSecret.count)-byte segment secret is too short for \(algorithm)")
        }
        do {
            let iv = try AES._CBC.IV(ivBytes: initializationVector)
            return Array(try AES._CBC.encrypt(plaintext, using: key, iv: iv))
        } catch {
            throw BranchCacheError(.undecryptable, "\(algorithm) encryption failed: \(error)")
        }
    }

    /// Decrypts a block and keeps its first `length` bytes, the block's size from the Content
    /// Information: whatever padding the sender chose (PKCS#7 or not) is cut off unread, as
    /// iPXE does, and the hash check that follows decides whether the block is right.
    public func decrypt(
        _ block: [UInt8], initializationVector: [UInt8], algorithm: PCCRRCryptoAlgorithm, segmentSecret: HashValue, length: Int
    ) throws(BranchCacheError) -> [UInt8] {
        guard algorithm != .none else {
            guard block.count >= length else {
                throw BranchCacheError(.undecryptable, "a clear block of \(block.count) bytes, \(length) expected")
            }
            return Array(block.prefix(length))
        }
        guard let key = key(for: algorithm, segmentSecret: segmentSecret) else {
            throw BranchCacheError(.undecryptable, "a \(segmentSecret.count)-byte segment secret is too short for \(algorithm)")
        }
        guard initializationVector.count == PCCRR.Limits.initializationVectorBytes else {
            throw BranchCacheError(.undecryptable, "\(algorithm) needs a 16-byte IV, the block came with \(initializationVector.count)")
        }
        guard block.count % 16 == 0, block.count >= length else {
            throw BranchCacheError(.undecryptable, "\(block.count) bytes of ciphertext cannot hold a \(length)-byte block in whole AES blocks")
        }
        do {
            let iv = try AES._CBC.IV(ivBytes: initializationVector)
            return Array(try AES._CBC.decrypt(block, using: key, iv: iv, noPadding: true).prefix(length))
        } catch {
            throw BranchCacheError(.undecryptable, "\(algorithm) decryption failed: \(error)")
        }
    }
}
