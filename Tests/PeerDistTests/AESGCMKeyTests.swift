import PeerDistHashing
import Testing
@testable import PeerDistWire

/// The in-place AES-256-GCM that records and blocks are sealed with: the published test vectors,
/// in place and between buffers, and refusal of any change to the bytes, tag, nonce or
/// associated data.
@Suite(.enabled(if: RecordCipher.Algorithm.aes256GCM.isSupported, "this CPU has no AES instructions"))
struct AESGCMKeyTests {
    /// McGrew and Viega's GCM test cases 13 and 14 (AES-256, zero key and IV).
    @Test(arguments: [
        (plaintext: "", ciphertext: "", tag: "530f8afbc74536b9a963b4f1c4cb738b"),
        (plaintext: "00000000000000000000000000000000", ciphertext: "cea7403d4d606b6e074ec5d3baf39d18", tag: "d0d1c8a799996bf0265b98b5d48ab919"),
    ])
    func sealsThePublishedVectors(vector: (plaintext: String, ciphertext: String, tag: String)) throws {
        let key = AESGCMKey([UInt8](repeating: 0, count: 32))
        let nonce = [UInt8](repeating: 0, count: 12)
        let plaintext = try #require(Hex.decode(vector.plaintext))
        var output = [UInt8](repeating: 0xEE, count: plaintext.count + 16)
        plaintext.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { output in
                nonce.withUnsafeBytes { key.seal(input, into: output, nonce: $0) }
            }
        }
        #expect(Hex.encode(output) == vector.ciphertext + vector.tag)

        var opened = [UInt8](repeating: 0xEE, count: plaintext.count)
        let ok = output.withUnsafeBytes { sealed in
            opened.withUnsafeMutableBytes { opened in
                nonce.withUnsafeBytes {
                    key.open(
                        UnsafeRawBufferPointer(rebasing: sealed[..<plaintext.count]), tag: UnsafeRawBufferPointer(rebasing: sealed[plaintext.count...]),
                        into: opened, nonce: $0)
                }
            }
        }
        #expect(ok)
        #expect(opened == plaintext)
    }

    @Test func sealsAndOpensInPlace() {
        let key = AESGCMKey((0..<32).map(UInt8.init))
        let nonce = [UInt8](repeating: 7, count: 12)
        let associatedData = Array("segment 3, block 9".utf8)
        let plaintext = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var buffer = plaintext + [UInt8](repeating: 0, count: 16)
        buffer.withUnsafeMutableBytes { buffer in
            nonce.withUnsafeBytes { nonce in
                associatedData.withUnsafeBytes { key.seal(UnsafeRawBufferPointer(rebasing: buffer[..<plaintext.count]), into: buffer, nonce: nonce, associatedData: $0) }
            }
        }
        #expect(Array(buffer[..<plaintext.count]) != plaintext)

        /// Opens `sealed` in place with `nonce` and `associatedData`; the plaintext, or nil.
        func open(_ sealed: [UInt8], nonce: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
            var sealed = sealed
            let ok = sealed.withUnsafeMutableBytes { buffer in
                nonce.withUnsafeBytes { nonce in
                    associatedData.withUnsafeBytes {
                        key.open(
                            UnsafeRawBufferPointer(rebasing: buffer[..<plaintext.count]), tag: UnsafeRawBufferPointer(rebasing: buffer[plaintext.count...]),
                            into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<plaintext.count]), nonce: nonce, associatedData: $0)
                    }
                }
            }
            return ok ? Array(sealed[..<plaintext.count]) : nil
        }
        #expect(open(buffer, nonce: nonce, associatedData: associatedData) == plaintext)
        for position in [0, 40_000, plaintext.count - 1, plaintext.count, plaintext.count + 15] {
            var tampered = buffer
            tampered[position] ^= 0x01
            #expect(open(tampered, nonce: nonce, associatedData: associatedData) == nil, "a flipped bit at byte \(position) opened")
        }
        #expect(open(buffer, nonce: [UInt8](repeating: 8, count: 12), associatedData: associatedData) == nil)
        #expect(open(buffer, nonce: nonce, associatedData: Array("segment 3, block 8".utf8)) == nil)
        #expect(open(buffer, nonce: nonce, associatedData: []) == nil)
    }

    @Test func aWrongSizedTagOrNonceIsRefused() {
        let key = AESGCMKey([UInt8](repeating: 1, count: 32))
        var output = [UInt8](repeating: 0, count: 4)
        let ok = [UInt8](repeating: 0, count: 4).withUnsafeBytes { input in
            output.withUnsafeMutableBytes { output in
                [UInt8](repeating: 0, count: 15).withUnsafeBytes { tag in
                    [UInt8](repeating: 0, count: 12).withUnsafeBytes { key.open(input, tag: tag, into: output, nonce: $0) }
                }
            }
        }
        #expect(!ok)
    }
}
