import CLibCrypto

/// SHA-512 through OpenSSL's libcrypto, reused across many messages.
///
/// Content Information version 2 hashes every segment with SHA-512. OpenSSL's implementation
/// runs about 1.4 times faster than swift-crypto's here, so the hot path uses it. A context is
/// not thread-safe: each worker owns one.
final class SHA512Context {
    private let context: OpaquePointer
    private let algorithm: OpaquePointer

    init() {
        // Allocation failures here mean the process is out of memory; nothing sensible can follow.
        guard let algorithm = EVP_MD_fetch(nil, "SHA512", nil), let context = EVP_MD_CTX_new() else {
            fatalError("OpenSSL could not provide SHA-512")
        }
        self.algorithm = algorithm
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(algorithm)
    }

    func begin() {
        EVP_DigestInit_ex(context, algorithm, nil)
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    /// The first `truncatedTo` bytes of the digest of everything passed to `update` since `begin`.
    func finish(truncatedTo length: Int = 64) -> HashValue {
        var digest = [UInt8](repeating: 0, count: 64)
        var written: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &written)
        return HashValue(digest.prefix(length))
    }

    /// The first 32 bytes of SHA-512 of `bytes`: a version 2 hash of data.
    func truncatedDigest(_ bytes: UnsafeRawBufferPointer) -> HashValue {
        begin()
        update(bytes)
        return finish(truncatedTo: 32)
    }
}
