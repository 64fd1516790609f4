import CAESGCM

/// An AES-256-GCM key, sealing and opening between caller-owned buffers (the same buffer for
/// in-place work) with a 12-byte nonce and a 16-byte tag.
///
/// Built on the BoringSSL inside swift-crypto (`CAESGCM`), which uses VAES/AVX-512 where the CPU
/// has it. swift-crypto's own API returns every result as a new `Data`, which cost two copies of
/// each block on the sender and three on the receiver; this works where the bytes lie.
package final class AESGCMKey: @unchecked Sendable {
    package static let keySize = 32
    package static let nonceSize = 12
    package static let tagSize = 16

    /// Immutable after `init`; BoringSSL allows concurrent seals and opens on one key.
    private let key: OpaquePointer

    /// `key` must be 32 bytes; anything else is a programming error.
    package init(_ key: UnsafeRawBufferPointer) {
        precondition(key.count == Self.keySize, "AES-256-GCM takes a 32-byte key, not \(key.count)")
        guard let expanded = peerdist_aes_gcm_new(key.baseAddress?.assumingMemoryBound(to: UInt8.self)) else {
            fatalError("out of memory expanding an AES-GCM key")
        }
        self.key = expanded
    }

    package convenience init(_ key: [UInt8]) {
        self.init(key.withUnsafeBytes { UnsafeRawBufferPointer($0) })
    }

    deinit {
        peerdist_aes_gcm_free(key)
    }

    /// Encrypts `plaintext` into the first `plaintext.count` bytes of `output` and writes the tag
    /// into the 16 bytes after them. `output` may start at `plaintext` (in place) but must not
    /// otherwise overlap it.
    package func seal(
        _ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) {
        precondition(output.count >= plaintext.count + Self.tagSize && nonce.count == Self.nonceSize)
        // The output holds at least the tag, so it has an address.
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let sealed = peerdist_aes_gcm_seal(
            key, out, out + plaintext.count, nonce.baseAddress?.assumingMemoryBound(to: UInt8.self),
            plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(out), plaintext.count,
            associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), associatedData.count)
        // Sealing fails only for a wrong nonce size or overlapping buffers, which callers rule out.
        precondition(sealed == 1, "AES-GCM failed to seal")
    }

    /// Checks `tag` and decrypts `ciphertext` into the first `ciphertext.count` bytes of `output`
    /// (which may be `ciphertext` itself, but must not otherwise overlap it); false when the
    /// bytes, tag, nonce or associated data were not the ones sealed.
    package func open(
        _ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
        nonce: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) -> Bool {
        guard tag.count == Self.tagSize, nonce.count == Self.nonceSize, output.count >= ciphertext.count,
              let tagBytes = tag.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return false }
        let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return peerdist_aes_gcm_open(
            key, out ?? UnsafeMutablePointer(mutating: tagBytes), nonce.baseAddress?.assumingMemoryBound(to: UInt8.self),
            ciphertext.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? tagBytes, ciphertext.count, tagBytes,
            associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), associatedData.count) == 1
    }
}
