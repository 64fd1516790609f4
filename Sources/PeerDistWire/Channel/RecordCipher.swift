import CSodium

/// Seals and opens the records of one direction of a secure channel, with a per-direction
/// counter as the nonce (so a record can be neither replayed, reordered nor dropped without the
/// next one failing).
///
/// AES-256-GCM where the CPU has AES-NI and carry-less multiply, through swift-crypto
/// (`AESGCMKey`), which measured several times faster here than libsodium's AES-GCM; libsodium's
/// XChaCha20-Poly1305 otherwise. Both ends pick the first the other also offers.
package final class RecordCipher {
    package enum Algorithm: UInt8 {
        case aes256GCM = 1
        case xChaCha20Poly1305 = 2

        package var isSupported: Bool {
            Sodium.ensureInitialized()
            switch self {
            case .aes256GCM: return crypto_aead_aes256gcm_is_available() == 1
            case .xChaCha20Poly1305: return true
            }
        }

        static var supportedMask: UInt8 {
            [Algorithm.aes256GCM, .xChaCha20Poly1305].filter(\.isSupported).reduce(0) { $0 | $1.rawValue }
        }

        static func choose(offered: UInt8) -> Algorithm? {
            [Algorithm.aes256GCM, .xChaCha20Poly1305].first { offered & $0.rawValue != 0 && $0.isSupported }
        }
    }

    package static let tagSize = 16

    private let algorithm: Algorithm
    private let key: [UInt8]
    /// The expanded AES key; nil for XChaCha20-Poly1305, which libsodium keys per call.
    private let aesKey: AESGCMKey?
    private var counter: UInt64 = 0
    /// The nonce of the next record, rewritten in place rather than allocated per record.
    private var nonce: [UInt8]

    package init(algorithm: Algorithm, key: [UInt8]) {
        self.algorithm = algorithm
        self.key = key
        self.aesKey = algorithm == .aes256GCM ? AESGCMKey(key) : nil
        self.nonce = [UInt8](repeating: 0, count: algorithm == .aes256GCM ? AESGCMKey.nonceSize : 24)
    }

    /// Puts the counter, big-endian, in the nonce's last 8 bytes and advances it.
    private func advanceNonce() {
        let size = nonce.count
        for index in 0..<8 { nonce[size - 1 - index] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index))) }
        counter += 1
    }

    /// Encrypts `plaintext` in place and writes the tag into the 16 bytes that follow it.
    package func seal(_ buffer: UnsafeMutableRawBufferPointer, plaintextCount: Int) {
        seal(UnsafeRawBufferPointer(rebasing: buffer[..<plaintextCount]), into: buffer)
    }

    /// Encrypts `plaintext` into `output` (which may begin at `plaintext` but not otherwise
    /// overlap it), followed by the 16-byte tag.
    func seal(_ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= plaintext.count + Self.tagSize)
        advanceNonce()
        if let aesKey {
            nonce.withUnsafeBytes { aesKey.seal(plaintext, into: output, nonce: $0) }
            return
        }
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let input = plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self)
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            out, out + plaintext.count, nil, input, UInt64(plaintext.count), nil, 0, nil, nonce, key)
    }

    /// Decrypts in place; `false` when the record was forged, altered or out of order.
    package func open(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        open(UnsafeRawBufferPointer(buffer), into: buffer)
    }

    /// Decrypts a record (ciphertext, then tag) into `output`, which needs room for the
    /// ciphertext only; `false` when the record was forged, altered or out of order.
    func open(_ record: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard record.count >= Self.tagSize else { return false }
        let length = record.count - Self.tagSize
        guard output.count >= length else { return false }
        advanceNonce()
        let ciphertext = UnsafeRawBufferPointer(rebasing: record[..<length])
        let tag = UnsafeRawBufferPointer(rebasing: record[length...])
        if let aesKey {
            return nonce.withUnsafeBytes { aesKey.open(ciphertext, tag: tag, into: output, nonce: $0) }
        }
        // The record holds at least the tag, so it has an address.
        let input = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
        return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            output.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, input, UInt64(length), input + length, nil, 0, nonce, key) == 0
    }
}
