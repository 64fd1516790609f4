import ArgumentParser
import Foundation
import PeerDist
import PeerDistCommandSupport

/// `peerdist names`: secure peer names (PNRP's `AUTHORITY.CLASSIFIER`) registered by the running
/// node and resolved on the Mainline DHT.
struct NamesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "names",
        abstract: "Register and resolve peer names: AUTHORITY.CLASSIFIER, secured by this node's key, or 0.CLASSIFIER, unsecured.",
        subcommands: [Register.self, Resolve.self, List.self, Unregister.self]
    )

    static func print(_ names: [DHTReply.Name]) {
        for name in names {
            var line = "\(name.name)\(name.secured ? "" : " (unsecured)")  \(name.endpoints.joined(separator: " "))"
            if let comment = name.comment { line += "  \(comment.debugDescription)" }
            if let scope = name.scope { line += "  scope \(scope)" }
            if let source = name.source { line += "  from \(source)" }
            Output.line(line)
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a name for as long as the node runs; a classifier alone names this node's secured AUTHORITY.CLASSIFIER.")
        @Argument(help: ArgumentHelp("CLASSIFIER, AUTHORITY.CLASSIFIER (this node's authority) or 0.CLASSIFIER.", valueName: "name")) var name: String
        @Option(name: .customLong("endpoint"), help: ArgumentHelp("An endpoint to publish instead of the node's own addresses; repeat for several.", valueName: "[addr]:port"))
        var endpoints: [String] = []
        @Option(help: ArgumentHelp("A file of at most 4 KiB to publish with the name.", valueName: "file")) var payload: String?
        @Option(help: "A comment to publish with the name.") var comment: String?
        @Option(help: "link, global (the Mainline DHT; needs `serve --global`) or all.") var scope = "all"
        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard ["link", "global", "all"].contains(scope) else { throw ValidationError("--scope takes link, global or all.") }
            for endpoint in endpoints where PeerAddress(parsing: endpoint) == nil {
                throw ValidationError("'\(endpoint)' is not an endpoint; use [address]:port.")
            }
        }

        func run() async throws {
            var request = DHTControlRequest(action: .register)
            request.name = name
            request.endpoints = endpoints.isEmpty ? nil : endpoints
            request.comment = comment
            request.scope = scope
            if let payload {
                guard let data = FileManager.default.contents(atPath: payload) else { throw CommandFailure("cannot read \(payload)") }
                guard data.count <= 4096 else { throw CommandFailure("\(payload) is \(data.count) bytes; a name's payload is at most 4096") }
                request.payload = data.base64EncodedString()
            }
            let reply = try await DHTCommand.ask(request, node: node)
            guard let registered = reply.names?.first else { throw CommandFailure("the node registered nothing") }
            if node.json { return try Output.json(["name": registered.name]) }
            Output.line(registered.name)
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resolve", abstract: "Resolve a name to its endpoints, payload and comment.")
        @Argument(help: ArgumentHelp("AUTHORITY.CLASSIFIER or 0.CLASSIFIER.", valueName: "name")) var name: String
        @Option(help: "Report at most this many instances.") var max = 16
        @Option(help: "Seconds to look for at most.") var timeout: Double = 10
        @Option(help: "link, global or all.") var scope = "all"
        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard max >= 1 else { throw ValidationError("--max takes a positive number.") }
            guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout takes 0 to 600 seconds.") }
            guard ["link", "global", "all"].contains(scope) else { throw ValidationError("--scope takes link, global or all.") }
            guard name.contains(".") else { throw ValidationError("'\(name)' is not a peer name: it needs AUTHORITY.CLASSIFIER (or 0.CLASSIFIER).") }
        }

        func run() async throws {
            var request = DHTControlRequest(action: .resolve)
            request.name = name
            request.maximum = max
            request.scope = scope
            request.timeout = timeout
            let reply = try await DHTCommand.ask(request, node: node)
            let names = reply.names ?? []
            // How long it took and what it cost, beside the answer (standard error).
            Output.error(String(format: "resolved in %.0f ms, %d DHT queries", reply.milliseconds ?? 0, reply.queries ?? 0))
            if node.json { return try Output.json(names) }
            guard !names.isEmpty else { throw CommandFailure("\(name) did not resolve") }
            NamesCommand.print(names)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "The names the running node registered.")
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let reply = try await DHTCommand.ask(DHTControlRequest(action: .list), node: node)
            if node.json { return try Output.json(reply.names ?? []) }
            if (reply.names ?? []).isEmpty { Output.line("no names registered") }
            NamesCommand.print(reply.names ?? [])
        }
    }

    struct Unregister: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unregister", abstract: "Stop registering a name.")
        @Argument(help: ArgumentHelp("The name (or its classifier, for this node's secured name).", valueName: "name")) var name: String
        @OptionGroup var node: NodeOptions

        func run() async throws {
            var request = DHTControlRequest(action: .unregister)
            request.name = name
            let reply = try await DHTCommand.ask(request, node: node)
            if node.json { return try Output.json(["name": reply.names?.first?.name ?? name]) }
            Output.line("unregistered \(reply.names?.first?.name ?? name)")
        }
    }
}
