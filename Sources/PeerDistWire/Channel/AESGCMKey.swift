import Crypto

/// An AES-256-GCM key, sealing and opening between caller-owned buffers (the same buffer for
/// in-place work) with a 12-byte nonce and a 16-byte tag.
///
/// Built on swift-crypto's public API, whose BoringSSL code uses VAES/AVX-512 where the CPU has
/// it. Its results come back as `Data` and are copied into the caller's buffers; an in-place
/// version on OpenSSL 3.0's libcrypto measured no faster here in interleaved runs.
final class AESGCMKey {
    static let keySize = 32
    static let nonceSize = 12
    static let tagSize = 16

    private let key: SymmetricKey

    /// `key` must be 32 bytes; anything else is a programming error.
    init(_ key: UnsafeRawBufferPointer) {
        precondition(key.count == Self.keySize, "AES-256-GCM takes a 32-byte key, not \(key.count)")
        self.key = SymmetricKey(data: key)
    }

    convenience init(_ key: [UInt8]) {
        self.init(key.withUnsafeBytes { UnsafeRawBufferPointer($0) })
    }

    /// Encrypts `plaintext` into the first `plaintext.count` bytes of `output` and writes the tag
    /// into the 16 bytes after them. `output` may start at `plaintext` (in place).
    func seal(
        _ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) {
        precondition(output.count >= plaintext.count + Self.tagSize && nonce.count == Self.nonceSize)
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: associatedData)
            box.ciphertext.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: output[..<plaintext.count]))
            box.tag.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: output[plaintext.count..<plaintext.count + Self.tagSize]))
        } catch {
            // Sealing fails only for a wrong key or nonce size, which the preconditions rule out.
            preconditionFailure("AES-GCM failed to seal: \(error)")
        }
    }

    /// Checks `tag` and decrypts `ciphertext` into the first `ciphertext.count` bytes of `output`
    /// (which may be `ciphertext` itself); false when the bytes, tag, nonce or associated data
    /// were not the ones sealed.
    func open(
        _ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
        nonce: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) -> Bool {
        guard tag.count == Self.tagSize, nonce.count == Self.nonceSize, output.count >= ciphertext.count else { return false }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            let plaintext = try AES.GCM.open(box, using: key, authenticating: associatedData)
            plaintext.copyBytes(to: output)
            return true
        } catch {
            return false
        }
    }
}
