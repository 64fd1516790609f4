import FuzzSupport
import PeerDistHashing

/// Key material from outside: `netsh branchcache exportkey` files (`peerdist key import`), and
/// the secrets and content IDs people type (`--secret-hex`, `peerdist fetch ID`).
///
/// The first byte picks the decoder; the rest is the input. An import that succeeds must export
/// back to the same file (CBC under a zero IV is deterministic), and every parsed text must print
/// as text that parses to the same value.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    let mode = Fuzzing.take(1, from: &bytes) % 4
    switch mode {
    case 0:
        // The passphrase `peerdist key` would be given; the seeds are exported under it.
        importFile(Array(bytes), passphrase: passphrase)
    case 1:
        // A passphrase chosen by the fuzzer too: its length, its bytes, then the file.
        let length = min(Fuzzing.take(1, from: &bytes), bytes.count)
        let chosen = String(decoding: bytes.prefix(length), as: UTF8.self)
        importFile(Array(bytes.dropFirst(length)), passphrase: chosen)
        // Any key survives its own export.
        let secret = ServerSecret(keyBytes: Array(bytes.dropFirst(length)))
        if !secret.keyBytes.isEmpty {
            let file = KeyExportFile.export(secret, passphrase: chosen)
            Fuzzing.check((try? KeyExportFile.import(file, passphrase: chosen)) == secret, "an exported key does not import back")
        }
    case 2:
        let text = String(decoding: bytes, as: UTF8.self)
        if let secret = ServerSecret(hex: text) {
            Fuzzing.check(ServerSecret(hex: Hex.encode(secret.keyBytes)) == secret, "a hex secret does not print back")
        }
    default:
        let text = String(decoding: bytes, as: UTF8.self)
        guard let id = ContentID(parsing: text) else { return }
        for printed in [id.uri, id.base32, id.hex] {
            Fuzzing.check(ContentID(parsing: printed) == id, "content ID \(text.debugDescription) prints as \(printed), which parses otherwise")
        }
    }
}

let passphrase = "fuzz passphrase"

func importFile(_ file: [UInt8], passphrase: String) {
    let secret: ServerSecret
    do {
        secret = try KeyExportFile.import(file, passphrase: passphrase)
    } catch {
        return
    }
    Fuzzing.check(KeyExportFile.export(secret, passphrase: passphrase) == file, "an imported key file does not export back to its bytes")
}

func makeSeeds() -> [String: [UInt8]] {
    var seeds: [String: [UInt8]] = [:]
    for length in [1, 16, 32, 47] {
        let secret = ServerSecret(keyBytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        seeds["export-\(length)"] = [0] + KeyExportFile.export(secret, passphrase: passphrase)
    }
    let chosen = Array("pässwörd".utf8)
    seeds["export-chosen"] = [1, UInt8(chosen.count)] + chosen + KeyExportFile.export(ServerSecret(keyBytes: [1, 2, 3]), passphrase: "pässwörd")
    seeds["hex-secret"] = [2] + Array("00112233445566778899aabbccddeeff".utf8)
    let id = ContentID(bytes: (0..<32).map { UInt8($0) })
    if let id {
        seeds["id-uri"] = [3] + Array(id.uri.utf8)
        seeds["id-hex"] = [3] + Array(" \(id.hex.uppercased())\n".utf8)
    }
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
