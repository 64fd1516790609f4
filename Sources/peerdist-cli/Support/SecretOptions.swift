import ArgumentParser
import Foundation
import PeerDistHashing
import PeerDistCommandSupport

/// Where segment secrets come from: a BranchCache server secret given one of three ways, or, when
/// none is given, the content ID (content-addressed: whoever knows the ID can read the content).
struct SecretOptions: ParsableArguments {
    @Option(name: .customLong("secret"), help: ArgumentHelp("Server secret as a passphrase; its UTF-8 bytes are the key.", valueName: "text"))
    var passphraseSecret: String?

    @Option(name: .customLong("secret-hex"), help: ArgumentHelp("Server secret key bytes in hex (as Windows stores them).", valueName: "hex"))
    var secretHex: String?

    @Option(name: .customLong("key-file"), help: ArgumentHelp("Server secret from a file written by `netsh branchcache exportkey` or `peerdist key export`.", valueName: "exported"))
    var keyFile: String?

    @Option(help: ArgumentHelp("Passphrase that opens --key-file.", valueName: "text"))
    var passphrase: String?

    func validate() throws {
        let given = [passphraseSecret != nil, secretHex != nil, keyFile != nil].filter { $0 }.count
        guard given <= 1 else {
            throw ValidationError("Give at most one of --secret, --secret-hex and --key-file.")
        }
        if let secretHex, Hex.decode(secretHex) == nil || secretHex.isEmpty {
            throw ValidationError("--secret-hex takes an even number of hexadecimal digits, e.g. 2a3d73eb…")
        }
        if keyFile != nil, passphrase == nil {
            throw ValidationError("--key-file needs --passphrase, the passphrase the key was exported with.")
        }
        if keyFile == nil, passphrase != nil {
            throw ValidationError("--passphrase goes with --key-file; to use a passphrase as the secret itself, give --secret.")
        }
    }

    /// The server secret, or `nil` for content-addressed segment secrets.
    func serverSecret() throws -> ServerSecret? {
        if let passphraseSecret { return ServerSecret(passphrase: passphraseSecret) }
        if let secretHex { return ServerSecret(hex: secretHex) }
        if let keyFile, let passphrase {
            let bytes = try readFile(keyFile)
            do {
                return try KeyExportFile.import(bytes, passphrase: passphrase)
            } catch {
                throw CommandFailure("\(keyFile): \(error)")
            }
        }
        return nil
    }
}

/// The whole file, or a one-line error naming it.
func readFile(_ path: String) throws -> [UInt8] {
    do {
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
        throw CommandFailure("\(path): no such file")
    } catch {
        throw CommandFailure("\(path): cannot read: \((error as NSError).localizedDescription)")
    }
}
