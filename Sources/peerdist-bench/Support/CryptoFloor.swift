import Foundation
import PeerDistHashing
import PeerDistWire

/// What PeerDist must spend on every byte beyond a plain HTTP transfer, measured on this machine:
/// one SHA-256 (the receiver verifies each block) and one AES-256-GCM seal and one open (each
/// hop encrypts once), in memory, on 64 KiB blocks, with the primitives the node uses. Added to
/// curl and nginx's CPU, it is a floor no verifying, encrypting transfer can go below.
struct CryptoFloor {
    /// CPU seconds per GiB.
    let sha256: Double
    let aesGCMSealAndOpen: Double

    var total: Double { sha256 + aesGCMSealAndOpen }

    /// Hashes, seals and opens `bytes` bytes (at least 64 MiB) in place, timing this thread's CPU.
    static func measure(bytes: Int = 1 << 30) -> CryptoFloor {
        let blockSize = 65_536
        let bufferSize = 64 << 20
        let passes = max(1, bytes / bufferSize)
        var buffer = [UInt8](repeating: 0, count: bufferSize + AESGCMKey.tagSize)
        var generator = SystemRandomNumberGenerator()
        for index in stride(from: 0, to: bufferSize, by: 8) {
            withUnsafeBytes(of: generator.next() as UInt64) { buffer.replaceSubrange(index..<index + 8, with: $0) }
        }
        let gibibytes = Double(passes * bufferSize) / Double(1 << 30)
        let key = AESGCMKey((0..<32).map(UInt8.init))
        let nonce = [UInt8](repeating: 1, count: AESGCMKey.nonceSize)

        var digests = 0
        let hashing = threadCPUSeconds {
            buffer.withUnsafeBytes { bytes in
                for _ in 0..<passes {
                    for start in stride(from: 0, to: bufferSize, by: blockSize) {
                        digests &+= Int(HashAlgorithm.sha256.digest(UnsafeRawBufferPointer(rebasing: bytes[start..<start + blockSize])).bytes[0])
                    }
                }
            }
        }
        var opened = 0
        let sealing = threadCPUSeconds {
            buffer.withUnsafeMutableBytes { bytes in
                nonce.withUnsafeBytes { nonce in
                    for _ in 0..<passes {
                        for start in stride(from: 0, to: bufferSize, by: blockSize) {
                            let block = UnsafeMutableRawBufferPointer(rebasing: bytes[start..<start + blockSize + AESGCMKey.tagSize])
                            let plaintext = UnsafeMutableRawBufferPointer(rebasing: block[..<blockSize])
                            // The tag overwrites the next block's first 16 bytes, which is sealed next anyway.
                            key.seal(UnsafeRawBufferPointer(plaintext), into: block, nonce: nonce)
                            let tag = UnsafeRawBufferPointer(rebasing: block[blockSize...])
                            if key.open(UnsafeRawBufferPointer(plaintext), tag: tag, into: plaintext, nonce: nonce) { opened += 1 }
                        }
                    }
                }
            }
        }
        precondition(opened == passes * (bufferSize / blockSize), "the floor's own AES-GCM round trip failed")
        _ = digests
        return CryptoFloor(sha256: hashing / gibibytes, aesGCMSealAndOpen: sealing / gibibytes)
    }

    private static func threadCPUSeconds(_ body: () -> Void) -> Double {
        var start = timespec()
        var end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    }
}
