import ArgumentParser
import Foundation
import PeerDist
import PeerDistCommandSupport

/// `peerdist dht`: what the running node's Mainline DHT node knows and holds.
struct DHTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "The running node's Mainline DHT node (`serve --global`): status, BEP 44 items, peers of an info-hash.",
        subcommands: [Status.self, Get.self, Put.self, Peers.self]
    )

    static func ask(_ request: DHTControlRequest, node: NodeOptions) async throws -> DHTReply {
        guard let reply = try await node.askRunningNode(.dht(request)) else {
            throw CommandFailure("no node is running on \(node.directory.path); start one with `peerdist serve --global`")
        }
        guard let dht = reply.dht else { throw CommandFailure("the node sent no DHT reply") }
        return dht
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "The DHT node's ID, port, routing table and message counts.")
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let reply = try await DHTCommand.ask(DHTControlRequest(action: .status), node: node)
            if node.json { return try Output.json(reply) }
            Output.line("node \(reply.nodeID ?? "?") on UDP port \(reply.port.map(String.init) ?? "?")")
            Output.line("routing table: \(reply.ipv4Nodes ?? 0) IPv4 nodes, \(reply.ipv6Nodes ?? 0) IPv6 nodes")
            Output.line("queries sent \(reply.queriesSent ?? 0), answered \(reply.responsesReceived ?? 0); queries answered \(reply.queriesAnswered ?? 0), rate-limited \(reply.queriesRateLimited ?? 0); datagrams refused \(reply.datagramsRefused ?? 0)")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Look up a BEP 44 mutable item by its owner's public key and salt.")
        @Argument(help: ArgumentHelp("The owner's Ed25519 public key, 64 hex digits.", valueName: "key")) var key: String
        @Option(help: "The item's salt (text).") var salt = ""
        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard key.count == 64, key.allSatisfy(\.isHexDigit) else { throw ValidationError("the key must be 64 hex digits (an Ed25519 public key).") }
        }

        func run() async throws {
            var request = DHTControlRequest(action: .get)
            request.key = key
            request.salt = salt
            let reply = try await DHTCommand.ask(request, node: node)
            if node.json { return try Output.json(reply) }
            guard let item = reply.item else { throw CommandFailure("no item under that key and salt (\(reply.queries ?? 0) queries)") }
            Output.line("seq \(item.seq ?? 0): \(item.text.map { $0.debugDescription } ?? "bencoded \(item.bencoded)")")
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "put", abstract: "Put a text as a BEP 44 mutable item under this node's key.")
        @Argument(help: "The text (at most 990 bytes).") var text: String
        @Option(help: "The item's salt (text, at most 64 bytes).") var salt = ""
        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard text.utf8.count <= 990 else { throw ValidationError("the text is \(text.utf8.count) bytes; a DHT item holds at most 990.") }
            guard salt.utf8.count <= 64 else { throw ValidationError("the salt is \(salt.utf8.count) bytes; BEP 44 allows 64.") }
        }

        func run() async throws {
            var request = DHTControlRequest(action: .put)
            request.value = text
            request.salt = salt
            let reply = try await DHTCommand.ask(request, node: node)
            if node.json { return try Output.json(reply) }
            Output.line("put seq \(reply.item?.seq ?? 0) under \(reply.item?.key ?? "?") on \(reply.stored ?? 0) nodes")
        }
    }

    struct Peers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "peers", abstract: "Look up the peers announced for an info-hash (get_peers).")
        @Argument(help: ArgumentHelp("40 hex digits.", valueName: "info-hash")) var infoHash: String
        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard infoHash.count == 40, infoHash.allSatisfy(\.isHexDigit) else { throw ValidationError("the info-hash must be 40 hex digits.") }
        }

        func run() async throws {
            var request = DHTControlRequest(action: .peers)
            request.key = infoHash
            let reply = try await DHTCommand.ask(request, node: node)
            if node.json { return try Output.json(reply) }
            for peer in reply.peers ?? [] { Output.line(peer) }
            if (reply.peers ?? []).isEmpty { Output.line("no peers found (\(reply.queries ?? 0) queries)") }
        }
    }
}
