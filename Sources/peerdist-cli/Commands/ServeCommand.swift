import ArgumentParser
import Foundation
import Logging
import PeerDist
import PeerDistCommandSupport

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the node in the foreground: serve published and cached content to peers.",
        discussion: "Controlled through the Unix socket control.sock (mode 0600) in the data directory. Stops cleanly on SIGINT or SIGTERM."
    )

    @OptionGroup var node: NodeOptions

    @Option(help: ArgumentHelp("Address and port to accept peers on.", valueName: "[addr]:port"))
    var listen = "[::]:\(PeerAddress.defaultPort)"

    @Option(help: "Largest size of fetched content kept in the cache (e.g. 20GiB); least recently used goes first.")
    var quota: ByteCount?

    @Option(name: .customLong("max-upload"), help: ArgumentHelp("Send at most this many bytes per second to all peers together (e.g. 50MiB).", valueName: "rate"))
    var maximumUpload: ByteCount?

    @Flag(name: .customLong("answer-branchcache-probes"), help: ArgumentHelp(
        "Also answer BranchCache (MS-PCCRD) segment probes on [ff02::c]:3702.",
        discussion: "BranchCache clients then learn which segments this node holds. Blocks are not yet served over MS-PCCRR, so they fall back to their server for the data."))
    var answersBranchCacheProbes = false

    func validate() throws {
        guard PeerAddress(parsing: listen, listening: true) != nil else {
            throw ValidationError("--listen takes [address]:port, e.g. [::]:7740 or [fe80::1%eth0]:7740.")
        }
    }

    func run() async throws {
        let node = try NodeRunner.open(
            node, listen: PeerAddress(parsing: listen, listening: true), quota: quota, maximumUpload: maximumUpload,
            answersBranchCacheProbes: answersBranchCacheProbes)
        try await NodeRunner.runUntilSignalled(node, announce: { node in
            if self.node.json {
                try? Output.json(["fingerprint": node.identity.fingerprint, "listening": node.listeningAddresses.joined(separator: " ")])
            } else {
                Output.line("node \(node.identity.fingerprint) listening on \(node.listeningAddresses.joined(separator: ", "))")
                Output.line("data directory \(node.configuration.dataDirectory.path)")
            }
        })
    }
}

/// Opening a node from the command line and running it until SIGINT or SIGTERM.
enum NodeRunner {
    static func open(
        _ options: NodeOptions, listen: PeerAddress? = nil, quota: ByteCount? = nil, maximumUpload: ByteCount? = nil,
        answersBranchCacheProbes: Bool = false
    ) throws -> PeerNode {
        OpenFileLimit.raiseToHardLimit()
        var configuration = PeerNode.Configuration(dataDirectory: options.directory, listen: listen, quotaBytes: quota.map { UInt64($0.bytes) })
        configuration.answersBranchCacheProbes = answersBranchCacheProbes
        configuration.maximumUploadRate = maximumUpload.flatMap { $0.bytes > 0 ? UInt64($0.bytes) : nil }
        do {
            return try PeerNode(configuration: configuration, logger: options.logger())
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    static func runUntilSignalled(_ node: PeerNode, announce: @escaping @Sendable (PeerNode) -> Void) async throws {
        let run = Task { try await node.run() }
        let interruption = InterruptionHandler { run.cancel() }
        defer { interruption.cancel() }
        // Wait until the listener is bound so the announcement can name the port.
        for _ in 0..<200 where node.configuration.listen != nil && node.listeningAddresses.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        announce(node)
        do {
            try await run.value
        } catch is CancellationError {
        } catch {
            if run.isCancelled { return }
            throw CommandFailure("\(error)")
        }
    }
}
