import Crypto
import Foundation
import PeerDistHashing
import Testing
@testable import PeerDistBranchCache

/// Block encryption against the reference's synthetic MSG_BLK and against OpenSSL's `enc`
/// command, an implementation apart from the one under test.
@Suite struct PCCRRBlockCipherTests {
    /// The reference's synthetic content: byte i is i mod 251.
    static func syntheticBytes(_ range: Range<Int>) -> [UInt8] {
        range.map { UInt8($0 % 251) }
    }

    @Test func syntheticBlockMatchesTheReference() throws {
        let vector = PCCRRVectors.shared.pccrr_messages.msg_blk_synthetic_v1_block1
        let secret = HashValue(PCCRRVectors.bytes(vector.kp))
        let plaintext = Self.syntheticBytes(65_536..<128_000)
        let iv = Array(UInt8(0)..<16)
        let ciphertext = try PCCRRBlockCipher().encrypt(plaintext, algorithm: .aes128, segmentSecret: secret, initializationVector: iv)
        #expect(ciphertext.count == vector.ct_len)
        #expect(HashValue(SHA256.hash(data: ciphertext)).hex == vector.ct_sha256)
        #expect(Hex.encode(ciphertext.prefix(16)) == vector.ct_first16)
        #expect(Hex.encode(ciphertext.suffix(16)) == vector.ct_last16)

        // The whole response, its segment ID read from the vector's first bytes.
        let head = PCCRRVectors.bytes(vector.first_64_bytes_hex)
        let segmentID = HashValue(head[24..<56])
        let response = PCCRRMessage(
            .block(PCCRRBlock(segmentID: segmentID, blockIndex: 1, nextBlockIndex: 0, block: ciphertext, initializationVector: iv)),
            cryptoAlgorithm: .aes128
        ).encodedResponse()
        #expect(response.count == vector.total_len)
        #expect(Array(response.prefix(64)) == head)
        #expect(Hex.encode(response.suffix(24)) == vector.last_24_bytes_hex)
        #expect(HashValue(SHA256.hash(data: response)).hex == vector.full_sha256)

        let decrypted = try PCCRRBlockCipher().decrypt(ciphertext, initializationVector: iv, algorithm: .aes128, segmentSecret: secret, length: plaintext.count)
        #expect(decrypted == plaintext)
    }

    @Test(arguments: [PCCRRCryptoAlgorithm.aes128, .aes192, .aes256])
    func matchesOpenSSL(_ algorithm: PCCRRCryptoAlgorithm) throws {
        let secret = HashValue((0..<32).map { UInt8($0 * 7 + 3) })
        let plaintext = Self.syntheticBytes(1000..<(1000 + 65_536 - 7))
        let cipher = PCCRRBlockCipher()
        let (block, iv) = try cipher.encrypt(plaintext, algorithm: algorithm, segmentSecret: secret)
        #expect(iv.count == 16)
        let key = Hex.encode(secret.bytes.prefix(algorithm.keyByteCount))
        let name = "-aes-\(algorithm.keyByteCount * 8)-cbc"
        // OpenSSL decrypts ours (checking the PKCS#7 padding) and encrypts the same bytes alike.
        #expect(try openssl([name, "-d", "-K", key, "-iv", Hex.encode(iv)], input: block) == plaintext)
        #expect(try openssl([name, "-K", key, "-iv", Hex.encode(iv)], input: plaintext) == block)
        #expect(try cipher.decrypt(block, initializationVector: iv, algorithm: algorithm, segmentSecret: secret, length: plaintext.count) == plaintext)
    }

    @Test func theWholeSecretRuleIsAES256WhateverTheHeaderSays() throws {
        let secret = HashValue((0..<32).map { UInt8($0) })
        let plaintext = Self.syntheticBytes(0..<100)
        let iv = [UInt8](repeating: 9, count: 16)
        let whole = PCCRRBlockCipher(keyRule: .wholeSecret)
        let block = try whole.encrypt(plaintext, algorithm: .aes128, segmentSecret: secret, initializationVector: iv)
        #expect(try openssl(["-aes-256-cbc", "-d", "-K", secret.hex, "-iv", Hex.encode(iv)], input: block) == plaintext)
        #expect(block != (try PCCRRBlockCipher().encrypt(plaintext, algorithm: .aes128, segmentSecret: secret, initializationVector: iv)))
    }

    @Test func clearBlocksPassAsTheyAre() throws {
        let secret = HashValue([UInt8](repeating: 1, count: 32))
        let (block, iv) = try PCCRRBlockCipher().encrypt([1, 2, 3], algorithm: .none, segmentSecret: secret)
        #expect(block == [1, 2, 3] && iv.isEmpty)
        #expect(try PCCRRBlockCipher().decrypt([1, 2, 3, 4], initializationVector: [], algorithm: .none, segmentSecret: secret, length: 3) == [1, 2, 3])
    }

    @Test func malformedCiphertextIsRefused() {
        let secret = HashValue([UInt8](repeating: 1, count: 32))
        let cipher = PCCRRBlockCipher()
        let iv = [UInt8](repeating: 0, count: 16)
        #expect(throws: BranchCacheError.self, "not whole AES blocks") {
            try cipher.decrypt(Array(repeating: 0, count: 33), initializationVector: iv, algorithm: .aes128, segmentSecret: secret, length: 20)
        }
        #expect(throws: BranchCacheError.self, "shorter than the block") {
            try cipher.decrypt(Array(repeating: 0, count: 16), initializationVector: iv, algorithm: .aes128, segmentSecret: secret, length: 20)
        }
        #expect(throws: BranchCacheError.self, "no IV") {
            try cipher.decrypt(Array(repeating: 0, count: 16), initializationVector: [], algorithm: .aes128, segmentSecret: secret, length: 16)
        }
        #expect(throws: BranchCacheError.self, "a 16-byte secret cannot key AES-256") {
            try cipher.encrypt([1], algorithm: .aes256, segmentSecret: HashValue([UInt8](repeating: 1, count: 16)))
        }
    }

    /// Runs `openssl enc` on `input`, passed through a file so no pipe can fill up.
    private func openssl(_ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pccrr-\(UUID().uuidString)")
        try Data(input).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "enc"] + arguments + ["-in", file.path]
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return Array(output)
    }
}
