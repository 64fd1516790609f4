import ArgumentParser
import Foundation
import PeerDist
import PeerDistCommandSupport

struct PeersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peers",
        abstract: "List the nodes the running node has heard announce themselves on the LAN."
    )

    @OptionGroup var node: NodeOptions

    func run() async throws {
        guard let reply = try await node.askRunningNode(.peers) else {
            throw CommandFailure("no node is running on \(node.directory.path); start one with `peerdist serve`")
        }
        let peers = reply.peers ?? []
        if node.json {
            try Output.json(peers)
            return
        }
        if peers.isEmpty {
            Output.line("no peers heard yet")
        }
        for peer in peers {
            let age = Int(Date().timeIntervalSince(peer.lastSeen))
            Output.line("\(peer.fingerprint)  \(peer.name)  \(peer.addresses.joined(separator: " "))  seen \(age)s ago")
        }
    }
}
