import ArgumentParser
import Logging
import PeerDist
import PeerDistCommandSupport

/// A peerdist node that corrupts every block it serves (one byte flipped), for the tests of how
/// fetchers detect a lying peer and ban it. Not for users: it exists so that the switch stays out
/// of `peerdist serve`.
@main
struct LiarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peerdist-liar",
        abstract: "Run a node that serves corrupted blocks, for tests.",
        discussion: "Prints \"node FINGERPRINT listening on ADDRESS\" like `peerdist serve`; stops on SIGINT or SIGTERM."
    )

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The node's data directory.", valueName: "dir"))
    var dataDirectory: String

    @Option(help: ArgumentHelp("Address and port to accept peers on.", valueName: "[addr]:port"))
    var listen = "[::]:0"

    func validate() throws {
        guard PeerAddress(parsing: listen, listening: true) != nil else { throw ValidationError("--listen takes [address]:port.") }
    }

    func run() async throws {
        var configuration = PeerNode.Configuration(
            dataDirectory: DataDirectory.resolve(dataDirectory), listen: PeerAddress(parsing: listen, listening: true), quotaBytes: nil)
        configuration.corruptsBlocks = true
        var logger = Logger(label: "peerdist-liar") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let node = try PeerNode(configuration: configuration, logger: logger)
        let run = Task { try await node.run() }
        let interruption = InterruptionHandler { run.cancel() }
        defer { interruption.cancel() }
        // The tests wait for this line, and read the port from it.
        for _ in 0..<200 where node.listeningAddresses.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        Output.line("node \(node.identity.fingerprint) listening on \(node.listeningAddresses.joined(separator: ", "))")
        do {
            try await run.value
        } catch {
            // Cancelled by SIGINT or SIGTERM: a clean stop, whatever the node's run threw.
            if !run.isCancelled { throw error }
        }
    }
}
