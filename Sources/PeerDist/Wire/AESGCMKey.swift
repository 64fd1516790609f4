import CLibCrypto

/// An AES-256-GCM key with its schedule expanded once, sealing and opening between caller-owned
/// buffers (the same buffer for in-place work) with a 12-byte nonce and a 16-byte tag.
///
/// It calls OpenSSL's libcrypto (AES-NI with carry-less multiply where the CPU has them), because
/// swift-crypto's `AES.GCM` returns fresh `Data` for every result and expands the key on every
/// call, which on 64 KiB records cost more than the cipher. Not thread-safe: one per sender.
final class AESGCMKey {
    static let keySize = 32
    static let nonceSize = 12
    static let tagSize = 16
    // EVP_CTRL_AEAD_GET_TAG and EVP_CTRL_AEAD_SET_TAG; the macros do not import into Swift.
    private static let getTag: Int32 = 0x10
    private static let setTag: Int32 = 0x11

    private let encryption: OpaquePointer
    private let decryption: OpaquePointer

    /// `key` must be 32 bytes; anything else is a programming error.
    init(_ key: UnsafeRawBufferPointer) {
        precondition(key.count == Self.keySize, "AES-256-GCM takes a 32-byte key, not \(key.count)")
        // Allocation fails only when the process is out of memory.
        guard let encryption = EVP_CIPHER_CTX_new(), let decryption = EVP_CIPHER_CTX_new() else {
            fatalError("OpenSSL could not allocate a cipher context")
        }
        let keyBytes = key.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let ready = EVP_EncryptInit_ex(encryption, EVP_aes_256_gcm(), nil, keyBytes, nil) == 1
            && EVP_DecryptInit_ex(decryption, EVP_aes_256_gcm(), nil, keyBytes, nil) == 1
        precondition(ready, "OpenSSL refused an AES-256-GCM key")
        self.encryption = encryption
        self.decryption = decryption
    }

    convenience init(_ key: [UInt8]) {
        self.init(key.withUnsafeBytes { UnsafeRawBufferPointer($0) })
    }

    deinit {
        EVP_CIPHER_CTX_free(encryption)
        EVP_CIPHER_CTX_free(decryption)
    }

    /// Encrypts `plaintext` into the first `plaintext.count` bytes of `output` and writes the tag
    /// into the 16 bytes after them. `output` may start at `plaintext` (in place), but must not
    /// otherwise overlap it.
    func seal(
        _ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) {
        precondition(output.count >= plaintext.count + Self.tagSize && nonce.count == Self.nonceSize)
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var length: Int32 = 0
        var sealed = EVP_EncryptInit_ex(encryption, nil, nil, nil, bytes(nonce)) == 1
        if !associatedData.isEmpty {
            sealed = sealed && EVP_EncryptUpdate(encryption, nil, &length, bytes(associatedData), Int32(associatedData.count)) == 1
        }
        if !plaintext.isEmpty {
            sealed = sealed && EVP_EncryptUpdate(encryption, out, &length, bytes(plaintext), Int32(plaintext.count)) == 1
        }
        sealed = sealed && EVP_EncryptFinal_ex(encryption, out + plaintext.count, &length) == 1
        sealed = sealed && EVP_CIPHER_CTX_ctrl(encryption, Self.getTag, Int32(Self.tagSize), out + plaintext.count) == 1
        // Sealing fails only for wrong lengths, which the precondition rules out.
        precondition(sealed, "OpenSSL failed to seal with AES-256-GCM")
    }

    /// Checks `tag` and decrypts `ciphertext` into the first `ciphertext.count` bytes of `output`
    /// (which may be `ciphertext` itself); false when the bytes, tag, nonce or associated data
    /// were not the ones sealed (the output then holds nothing to trust).
    func open(
        _ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
        nonce: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) -> Bool {
        guard tag.count == Self.tagSize, nonce.count == Self.nonceSize, output.count >= ciphertext.count else { return false }
        var expectedTag = Array(tag)
        var length: Int32 = 0
        guard EVP_DecryptInit_ex(decryption, nil, nil, nil, bytes(nonce)) == 1 else { return false }
        if !associatedData.isEmpty {
            guard EVP_DecryptUpdate(decryption, nil, &length, bytes(associatedData), Int32(associatedData.count)) == 1 else { return false }
        }
        let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(decryption, out, &length, bytes(ciphertext), Int32(ciphertext.count)) == 1 else { return false }
        }
        guard EVP_CIPHER_CTX_ctrl(decryption, Self.setTag, Int32(Self.tagSize), &expectedTag) == 1 else { return false }
        var finalLength: Int32 = 0
        var scratch = [UInt8](repeating: 0, count: 16)
        return EVP_DecryptFinal_ex(decryption, &scratch, &finalLength) == 1
    }

    private func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
        buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }
}
