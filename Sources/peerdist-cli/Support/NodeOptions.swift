import ArgumentParser
import Logging
import PeerDist
import PeerDistCommandSupport

/// Options every node command shares.
struct NodeOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The node's data directory (default: $PEERDIST_DATA_DIR, else $XDG_DATA_HOME/peerdist).", valueName: "dir"))
    var dataDirectory: String?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "Log what the node does on standard error.")
    var verbose = false

    var directory: DataDirectory { DataDirectory.resolve(dataDirectory) }

    func logger(_ label: String = "peerdist") -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }

    /// Sends `request` to the node running on the data directory; `nil` when none runs.
    func askRunningNode(_ request: ControlRequest, onEvent: (ControlEvent) throws -> Void = { _ in }) async throws -> ControlEvent? {
        guard let reply = try await ControlSocket.send(request, dataDirectory: directory.path, onEvent: onEvent) else { return nil }
        if reply.event == .error { throw CommandFailure(reply.message ?? "the node reported an error") }
        return reply
    }

    /// What the node running on the data directory answers to `request` (`answer` takes it from
    /// the reply); with none running, what `locally` finds on a node opened here.
    func ask<Value>(_ request: ControlRequest, answer: (ControlEvent) -> Value, locally: (PeerNode) throws -> Value) async throws -> Value {
        if let reply = try await askRunningNode(request) { return answer(reply) }
        return try locally(NodeRunner.open(self))
    }
}
