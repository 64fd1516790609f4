import ArgumentParser
import Foundation
import PeerDist
import PeerDistHashing
import PeerDistStore
import PeerDistCommandSupport

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Hash a file into BranchCache Content Information.",
        discussion: """
            Writes the Content Information to --output (default: FILE.ci beside the file; '-' for \
            standard output) and prints a summary. Without a server secret, segment secrets derive \
            from the content ID, so only those who know the ID can read the content from peers.
            """
    )

    @Argument(help: "The file to hash.")
    var file: String

    @Option(name: .customLong("content-version"), help: "Content Information version: 1 (32 MiB segments of 64 KiB blocks, SHA-256) or 2 (content-defined segments, SHA-512).")
    var contentVersion: Int = 1

    @OptionGroup(title: "Server secret")
    var secret: SecretOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the Content Information.", valueName: "ci-file"))
    var output: String?

    @Option(help: "Hashing threads (default: one per processor).")
    var threads: Int?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard ContentInformationVersion(rawValue: contentVersion) != nil else {
            throw ValidationError("--content-version takes 1 or 2, not \(contentVersion).")
        }
        if let threads, threads < 1 {
            throw ValidationError("--threads takes a positive number.")
        }
    }

    func run() throws {
        let version = ContentInformationVersion(rawValue: contentVersion) ?? .v1
        let serverSecret = try secret.serverSecret()
        let hashed: HashedContent
        do {
            hashed = try FileHasher(version: version, threads: threads).hash(path: file)
        } catch {
            throw CommandFailure(error.description)
        }
        let contentID = ContentID(hashed)
        let information = ContentInformation(hashed: hashed, secret: serverSecret ?? contentID.serverSecret)
        let blob = information.encoded()

        let destination = output ?? file + ".ci"
        if destination == "-" {
            Output.write(blob, to: STDOUT_FILENO)
            return
        }
        do {
            try AtomicFile.write(blob, to: destination)
        } catch {
            throw CommandFailure(error.description)
        }

        let report = HashReport(
            file: file, length: hashed.length, contentID: contentID.hex,
            secret: serverSecret == nil ? "content-addressed" : "server",
            output: destination, contentInformation: ContentInformationReport(information, encodedSize: blob.count, segmentLimit: json ? .max : 20))
        if json {
            try Output.json(report)
        } else {
            Output.line("file         \(file) (\(ByteCount.format(Int(hashed.length))))")
            Output.line("content id   \(contentID.hex)")
            Output.line("secret       \(report.secret)")
            report.contentInformation.printSummary()
            Output.line("written      \(destination) (\(blob.count) bytes)")
        }
    }
}

private struct HashReport: Encodable {
    let file: String
    let length: UInt64
    let contentID: String
    let secret: String
    let output: String
    let contentInformation: ContentInformationReport

    enum CodingKeys: String, CodingKey {
        case file, length, secret, output
        case contentID = "content_id"
        case contentInformation = "content_information"
    }
}
