import CSodium

/// Seals and opens the records of one direction of a secure channel with libsodium's AEAD,
/// in place, with a per-direction counter as the nonce (so a record can be neither replayed,
/// reordered nor dropped without the next one failing).
///
/// AES-256-GCM where the CPU has AES-NI and CLMUL (it runs several times faster there);
/// XChaCha20-Poly1305 otherwise. Both ends pick the first the other also offers.
final class RecordCipher {
    enum Algorithm: UInt8 {
        case aes256GCM = 1
        case xChaCha20Poly1305 = 2

        var isSupported: Bool {
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

    static let tagSize = 16

    private let algorithm: Algorithm
    private let key: [UInt8]
    private let aesState: UnsafeMutablePointer<crypto_aead_aes256gcm_state>?
    private var counter: UInt64 = 0

    init(algorithm: Algorithm, key: [UInt8]) {
        self.algorithm = algorithm
        self.key = key
        if algorithm == .aes256GCM {
            // The expanded key schedule is computed once; libsodium wants it 16-byte aligned.
            let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<crypto_aead_aes256gcm_state>.size, alignment: 16)
            let state = raw.bindMemory(to: crypto_aead_aes256gcm_state.self, capacity: 1)
            crypto_aead_aes256gcm_beforenm(state, key)
            aesState = state
        } else {
            aesState = nil
        }
    }

    deinit {
        aesState?.deallocate()
    }

    private func nextNonce() -> [UInt8] {
        defer { counter += 1 }
        let size = algorithm == .aes256GCM ? 12 : 24
        var nonce = [UInt8](repeating: 0, count: size)
        for index in 0..<8 { nonce[size - 1 - index] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index))) }
        return nonce
    }

    /// Encrypts `plaintext` in place and writes the tag into the 16 bytes that follow it.
    func seal(_ buffer: UnsafeMutableRawBufferPointer, plaintextCount: Int) {
        let nonce = nextNonce()
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let tag = base + plaintextCount
        switch algorithm {
        case .aes256GCM:
            crypto_aead_aes256gcm_encrypt_detached_afternm(base, tag, nil, base, UInt64(plaintextCount), nil, 0, nil, nonce, aesState!)
        case .xChaCha20Poly1305:
            crypto_aead_xchacha20poly1305_ietf_encrypt_detached(base, tag, nil, base, UInt64(plaintextCount), nil, 0, nil, nonce, key)
        }
    }

    /// Decrypts in place; `false` when the record was forged, altered or out of order.
    func open(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= Self.tagSize else { return false }
        let nonce = nextNonce()
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let length = buffer.count - Self.tagSize
        let tag = base + length
        switch algorithm {
        case .aes256GCM:
            return crypto_aead_aes256gcm_decrypt_detached_afternm(base, nil, base, UInt64(length), tag, nil, 0, nonce, aesState!) == 0
        case .xChaCha20Poly1305:
            return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(base, nil, base, UInt64(length), tag, nil, 0, nonce, key) == 0
        }
    }
}
