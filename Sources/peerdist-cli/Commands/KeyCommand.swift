import ArgumentParser
import PeerDist
import PeerDistHashing
import PeerDistStore
import PeerDistCommandSupport

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Move BranchCache server secrets in and out of `netsh branchcache exportkey` files.",
        subcommands: [Export.self, Import.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a server secret as a key-export file that Windows (`netsh branchcache importkey`) reads.")

        @Option(name: .customLong("secret-hex"), help: "The secret key bytes in hex; omit to generate 32 random bytes.")
        var secretHex: String?

        @Option(help: "Passphrase that will protect the file.")
        var passphrase: String

        @Option(name: .shortAndLong, help: "Where to write the file; an existing file is not replaced.")
        var output: String

        func validate() throws {
            if let secretHex, Hex.decode(secretHex) == nil || secretHex.isEmpty {
                throw ValidationError("--secret-hex takes an even number of hexadecimal digits.")
            }
        }

        func run() throws {
            let secret = secretHex.flatMap(ServerSecret.init(hex:)) ?? ServerSecret.random()
            do {
                try AtomicFile.write(KeyExportFile.export(secret, passphrase: passphrase), to: output, replacing: false)
            } catch {
                throw CommandFailure(error.description)
            }
            Output.line("wrote \(output) (\(secret.keyBytes.count)-byte secret)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Open a key-export file and print the secret key bytes in hex.")

        @Argument(help: "A file written by `netsh branchcache exportkey` or `peerdist key export`.")
        var file: String

        @Option(help: "The passphrase the file was exported with.")
        var passphrase: String

        func run() throws {
            let bytes = try readFile(file)
            do {
                Output.line(try KeyExportFile.import(bytes, passphrase: passphrase).keyBytes.hexString)
            } catch {
                throw CommandFailure("\(file): \(error)")
            }
        }
    }
}

extension Array where Element == UInt8 {
    var hexString: String { Hex.encode(self) }
}
