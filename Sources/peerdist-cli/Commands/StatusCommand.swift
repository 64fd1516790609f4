import ArgumentParser
import PeerDistHashing
import PeerDist
import PeerDistCommandSupport

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the node's identity, addresses, published and cached content, and transfers."
    )

    @OptionGroup var node: NodeOptions

    func run() async throws {
        let status: NodeStatus
        let running: Bool
        if let reply = try await node.askRunningNode(.status), let reported = reply.status {
            status = reported
            running = true
        } else {
            status = try NodeRunner.open(node).status()
            running = false
        }
        if node.json {
            try Output.json(status)
            return
        }
        Output.line("node         \(status.fingerprint)\(running ? "" : " (not running)")")
        Output.line("data         \(status.dataDirectory)")
        Output.line("listening    \(status.listening.isEmpty ? "-" : status.listening.joined(separator: ", "))")
        Output.line("published    \(status.published.count)")
        for entry in status.published {
            Output.line("  \(entry.uri)  \(ByteCount.format(Int(entry.size)))  \(entry.path ?? "")\(entry.stale == true ? "  (changed since publishing)" : "")")
        }
        Output.line("cached       \(status.cached.count)")
        for entry in status.cached {
            Output.line("  \(entry.uri)  \(ByteCount.format(Int(entry.heldBytes)))/\(ByteCount.format(Int(entry.size)))\(entry.complete ? "" : "  (partial)")")
        }
        Output.line("transfers    \(status.transfers.count)")
        for transfer in status.transfers {
            Output.line("  \(transfer.contentID.prefix(16))…  \(ByteCount.format(Int(transfer.heldBytes)))/\(ByteCount.format(Int(transfer.totalBytes)))  \(transfer.peer ?? "")")
        }
        let counters = status.counters
        Output.line("sent         \(ByteCount.format(Int(counters.blockBytesSent))) in \(counters.blocksSent) blocks")
        Output.line("received     \(ByteCount.format(Int(counters.blockBytesReceived))) in \(counters.blocksReceived) blocks (\(counters.blocksRejected) rejected)")
        if counters.chunksSent > 0 || counters.chunksReceived > 0 {
            Output.line("mirror sent  \(ByteCount.format(Int(counters.chunkBytesSent))) in \(counters.chunksSent) chunks (\(counters.chunkDeltasSent) as deltas)")
            Output.line(
                "mirror recv  \(ByteCount.format(Int(counters.chunkBytesReceived))) in \(counters.chunksReceived) chunks (\(counters.chunkDeltasReceived) as deltas, "
                    + "\(ByteCount.format(Int(counters.chunkPayloadBytesReceived))) on the wire, \(counters.chunksRejected) rejected)")
        }
    }
}
