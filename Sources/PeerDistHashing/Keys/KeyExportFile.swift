import Crypto
import CryptoExtras
import Foundation

/// The file `netsh branchcache exportkey FILE PASSPHRASE` writes, so that a PeerDist server and a
/// Windows server farm can share one server secret (MS-PCCRC 2024 §2.5).
///
/// Plaintext `SHA-256(key) ‖ key`, encrypted with AES-256-CBC and PKCS#7 padding under a zero IV,
/// with `SHA-256(passphrase as UTF-16LE, no terminator)` as the AES key.
public enum KeyExportFile {
    /// The file's bytes for `secret`, protected by `passphrase`.
    public static func export(_ secret: ServerSecret, passphrase: String) -> [UInt8] {
        let plaintext = Array(SHA256.hash(data: secret.keyBytes)) + secret.keyBytes
        do {
            return Array(try AES._CBC.encrypt(plaintext, using: fileKey(passphrase), iv: zeroIV()))
        } catch {
            // The key is 32 bytes and the IV 16 by construction; encryption cannot fail on them.
            preconditionFailure("AES-256-CBC rejected a well-formed key: \(error)")
        }
    }

    /// The secret inside an exported key file.
    public static func `import`(_ file: [UInt8], passphrase: String) throws(KeyExportFileError) -> ServerSecret {
        // Smallest file: a 32-byte checksum, at least one key byte, padding: 48 bytes.
        guard file.count >= 48, file.count.isMultiple(of: 16) else {
            throw .malformed("a key-export file is a whole number of 16-byte AES blocks, at least 48 bytes; this one has \(file.count)")
        }
        let plaintext: [UInt8]
        do {
            plaintext = Array(try AES._CBC.decrypt(file, using: fileKey(passphrase), iv: zeroIV()))
        } catch {
            throw .wrongPassphrase
        }
        guard plaintext.count > 32 else { throw .wrongPassphrase }
        let key = Array(plaintext[32...])
        guard HashValue(SHA256.hash(data: key)) == HashValue(plaintext[..<32]) else { throw .wrongPassphrase }
        return ServerSecret(keyBytes: key)
    }

    private static func fileKey(_ passphrase: String) -> SymmetricKey {
        let utf16LE = passphrase.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        return SymmetricKey(data: SHA256.hash(data: utf16LE))
    }

    private static func zeroIV() throws -> AES._CBC.IV {
        try AES._CBC.IV(ivBytes: [UInt8](repeating: 0, count: 16))
    }
}

/// Why a key-export file could not be read.
public enum KeyExportFileError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    /// The passphrase does not open the file (or the file was altered): its checksum does not match.
    case wrongPassphrase

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed key-export file: \(reason)"
        case .wrongPassphrase: "the passphrase does not open this key-export file (or the file is damaged)"
        }
    }
}
