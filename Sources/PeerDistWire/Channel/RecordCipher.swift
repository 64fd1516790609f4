import CSodium

/// Seals and opens the records of one direction of a secure channel, with a per-direction
/// counter as the nonce (so a record can be neither replayed, reordered nor dropped without the
/// next one failing).
///
/// AES-256-GCM where the CPU has AES-NI and carry-less multiply, through swift-crypto
/// (`AESGCMKey`), which measured several times faster here than libsodium's AES-GCM; libsodium's
/// XChaCha20-Poly1305 otherwise. Both ends pick the first the other also offers.
package final class RecordCipher {
    package enum Algorithm: UInt8, Sendable {
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

    private let key: SealingKey
    private var counter: UInt64 = 0
    /// The sequence number (counter value) of the record sealed or opened last: a block carried
    /// in that record is sealed with it as its nonce (see `RecordSealer`).
    package private(set) var lastSequence: UInt64 = 0

    package init(algorithm: Algorithm, key: [UInt8]) {
        self.key = SealingKey(algorithm: algorithm, key: key)
    }

    /// Takes the next sequence number.
    private func advance() -> UInt64 {
        lastSequence = counter
        counter += 1
        return lastSequence
    }

    /// Encrypts `plaintext` in place and writes the tag into the 16 bytes that follow it.
    package func seal(_ buffer: UnsafeMutableRawBufferPointer, plaintextCount: Int) {
        seal(UnsafeRawBufferPointer(rebasing: buffer[..<plaintextCount]), into: buffer)
    }

    /// Encrypts `plaintext` into `output` (which may begin at `plaintext` but not otherwise
    /// overlap it), followed by the 16-byte tag.
    func seal(_ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, associatedData: UnsafeRawBufferPointer = .empty) {
        key.seal(plaintext, into: output, sequence: advance(), associatedData: associatedData)
    }

    /// Decrypts in place; `false` when the record was forged, altered or out of order.
    package func open(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        open(UnsafeRawBufferPointer(buffer), into: buffer)
    }

    /// Decrypts a record (ciphertext, then tag) into `output`, which needs room for the
    /// ciphertext only; `false` when the record was forged, altered or out of order.
    func open(_ record: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, associatedData: UnsafeRawBufferPointer = .empty) -> Bool {
        guard record.count >= Self.tagSize, output.count >= record.count - Self.tagSize else { return false }
        return key.open(record, into: output, sequence: advance(), associatedData: associatedData)
    }
}

extension UnsafeRawBufferPointer {
    static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
}

/// One AEAD key of either algorithm, sealing between caller-owned buffers with a 64-bit
/// sequence number, big-endian in the nonce's last 8 bytes (zeros before), as the nonce. Whoever
/// holds a key must never seal twice under one sequence number.
struct SealingKey {
    let algorithm: RecordCipher.Algorithm
    private let key: [UInt8]
    /// The expanded AES key; nil for XChaCha20-Poly1305, which libsodium keys per call.
    private let aesKey: AESGCMKey?

    init(algorithm: RecordCipher.Algorithm, key: [UInt8]) {
        self.algorithm = algorithm
        self.key = key
        self.aesKey = algorithm == .aes256GCM ? AESGCMKey(key) : nil
    }

    private var nonceSize: Int { algorithm == .aes256GCM ? AESGCMKey.nonceSize : 24 }

    /// Runs `body` with the nonce of `sequence`, built on the stack (never empty, so its base
    /// address is there).
    private func withNonce<Result>(_ sequence: UInt64, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeTemporaryAllocation(byteCount: nonceSize, alignment: 8) { nonce in
            nonce.initializeMemory(as: UInt8.self, repeating: 0)
            for index in 0..<8 { nonce[nonceSize - 1 - index] = UInt8(truncatingIfNeeded: sequence >> (8 * UInt64(index))) }
            return body(UnsafeRawBufferPointer(nonce))
        }
    }

    /// Encrypts `plaintext` into `output` (which may begin at `plaintext`), then the 16-byte tag.
    func seal(_ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, sequence: UInt64, associatedData: UnsafeRawBufferPointer) {
        precondition(output.count >= plaintext.count + RecordCipher.tagSize)
        withNonce(sequence) { nonce in
            if let aesKey {
                aesKey.seal(plaintext, into: output, nonce: nonce, associatedData: associatedData)
                return
            }
            // The output holds at least the tag, so it has an address.
            let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
                out, out + plaintext.count, nil, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count), nil,
                nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), key)
        }
    }

    /// Decrypts `record` (ciphertext, then tag) into `output`; false when it was not sealed
    /// under this key, sequence number and associated data.
    func open(_ record: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, sequence: UInt64, associatedData: UnsafeRawBufferPointer) -> Bool {
        guard record.count >= RecordCipher.tagSize else { return false }
        let length = record.count - RecordCipher.tagSize
        guard output.count >= length else { return false }
        return withNonce(sequence) { nonce in
            let ciphertext = UnsafeRawBufferPointer(rebasing: record[..<length])
            let tag = UnsafeRawBufferPointer(rebasing: record[length...])
            if let aesKey {
                return aesKey.open(ciphertext, tag: tag, into: output, nonce: nonce, associatedData: associatedData)
            }
            // The record holds at least the tag, so it has an address.
            let input = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
                output.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, input, UInt64(length), input + length,
                associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), key) == 0
        }
    }
}
