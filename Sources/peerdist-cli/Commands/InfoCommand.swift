import ArgumentParser
import PeerDistHashing
import PeerDistCommandSupport

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Decode a Content Information blob (version 1 or 2) and show what it describes."
    )

    @Argument(help: ArgumentHelp("A Content Information file, as `peerdist hash` or a BranchCache server writes it.", valueName: "ci-file"))
    var file: String

    @Flag(help: "Print as JSON: version, hash_algorithm, range and segments[].")
    var json = false

    func run() throws {
        let bytes = try readFile(file)
        let information: ContentInformation
        do {
            information = try ContentInformation(decoding: bytes)
        } catch {
            throw CommandFailure("\(file): \(error)")
        }
        let report = ContentInformationReport(information, encodedSize: bytes.count, segmentLimit: json ? .max : 20)
        if json {
            try Output.json(report)
        } else {
            Output.line("file         \(file) (\(bytes.count) bytes)")
            report.printSummary()
        }
    }
}
