import ArgumentParser
import Foundation
import PeerDist
import PeerDistHashing
import PeerDistMirror
import PeerDistCommandSupport

struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch content by its ID from peers, verifying every block.",
        discussion: """
            Writes to a temporary file and renames it into place only when every block is verified; \
            an interrupted fetch resumes without fetching verified blocks again. Uses the running \
            node when there is one, otherwise runs one for the duration. A directory's ID \
            (peerdist:tree:…) fetches the whole tree, built beside the output directory and renamed \
            into place once complete; ID/PATH fetches one file of it; --list shows its entries.
            """
    )

    @Argument(help: ArgumentHelp("The content ID (peerdist:… URI, base32 or hex), a directory's ID (peerdist:tree:…) optionally followed by /PATH, or an http:// URL of an origin that speaks BranchCache (MS-PCCRTP).", valueName: "id"))
    var id: String

    @Option(name: .customLong("peer"), help: ArgumentHelp("A peer to fetch from; repeat for several.", valueName: "[addr]:port"))
    var peers: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the content (default: the ID's base32 form in the current directory).", valueName: "path"))
    var output: String?

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    @Option(name: .customLong("max-download"), help: ArgumentHelp("Receive at most this many bytes per second (e.g. 50MiB).", valueName: "rate"))
    var maximumDownload: ByteCount?

    @Flag(name: .customLong("peers"), help: "After the fetch, show how much each peer sent and at what rate.")
    var showPeers = false

    @Option(name: .customLong("hosted-cache"), help: ArgumentHelp("With an http:// URL: the branch's hosted cache (MS-PCHC), asked for blocks before the origin.", valueName: "[addr]:port"))
    var hostedCache: String?

    @Flag(help: "With a directory's ID: list its entries instead of fetching them.")
    var list = false
    @Flag(name: .customLong("global"), help: ArgumentHelp(
        "Look for holders on the Mainline DHT at once, not only when nobody on the LAN holds the content.",
        discussion: "A running node must be on the DHT (`serve --global`); without one, the fetch joins the DHT through --dht-bootstrap or the well-known routers for its duration."))
    var global = false

    @Option(name: .customLong("dht-bootstrap"), help: ArgumentHelp(
        "With --global and no running node: a DHT node to join through; repeat for several.", valueName: "[addr]:port"))
    var bootstrap: [String] = []

    @OptionGroup var node: NodeOptions

    func validate() throws {
        if !bootstrap.isEmpty, !global { throw ValidationError("--dht-bootstrap goes with --global.") }
        if let tree = SnapshotReference(parsing: id) {
            try validateTree(tree)
            return
        }
        guard ContentID(parsing: id) != nil || OriginURL(id) != nil else {
            throw ValidationError("'\(id)' is not a content ID; give the peerdist:… URI, 52 base32 or 64 hex characters that `peerdist publish` printed, or an http:// URL.")
        }
        if list { throw ValidationError("--list shows a directory's entries; '\(id)' is a file's content ID.") }
        if let hostedCache, PeerAddress(parsing: hostedCache) == nil || OriginURL(id) == nil {
            throw ValidationError("--hosted-cache takes [address]:port, and goes with an http:// URL.")
        }
        for peer in peers where PeerAddress(parsing: peer) == nil {
            throw ValidationError("'\(peer)' is not a peer address; use [address]:port, e.g. [fe80::1%eth0]:7740.")
        }
    }

    func run() async throws {
        if let tree = SnapshotReference(parsing: id) { return try await fetch(tree) }
        if let url = OriginURL(id) { return try await fetch(from: url) }
        guard let contentID = ContentID(parsing: id) else { return }
        let destination = URL(fileURLWithPath: output ?? contentID.base32).standardizedFileURL.path
        if !force, FileManager.default.fileExists(atPath: destination) {
            throw CommandFailure("\(destination) already exists (remove it, choose another -o, or pass --force)")
        }
        let bar = node.json ? nil : ProgressBar(label: "fetch \(contentID.base32.prefix(8))")
        let perPeer = PeerTally()
        let emitter = JSONEventEmitter(enabled: node.json)
        let rate = maximumDownload.map { UInt64($0.bytes) }
        let request = ControlRequest.fetch(.init(
            id: contentID, peers: peers.compactMap { PeerAddress(parsing: $0) }, output: destination, replace: force, maximumRate: rate,
            global: global))
        let reply = try await node.askRunningNode(request) { event in
            guard event.event == .progress, let held = event.heldBytes, let total = event.totalBytes else { return }
            perPeer.update(event.bytesByPeer ?? [:])
            bar?.update(done: held, total: total)
            emitter.progress(held: held, total: total, received: event.receivedBytes ?? 0, peer: event.peer)
        }
        let received: UInt64
        let rejected: UInt64
        if let reply {
            received = reply.receivedBytes ?? 0
            rejected = reply.rejectedBlocks ?? 0
        } else {
            let global = global
            let running = try NodeRunner.open(node) { configuration in
                if global { configuration.dht = PeerNode.DHTSettings(bootstrap: bootstrap.isEmpty ? nil : bootstrap, port: 0) }
            }
            let peerAddresses = peers.compactMap { PeerAddress(parsing: $0) }
            let fetch = Task {
                // On the DHT for the fetch's duration: joined before holders are looked for.
                let joined = await running.joinDHTForOneOperation()
                defer { joined?.cancel() }
                return try await running.fetch(id: contentID, peers: peerAddresses, output: destination, replace: force, maximumRate: rate, global: global) { update in
                    perPeer.update(update.bytesByPeer)
                    bar?.update(done: update.heldBytes, total: update.totalBytes)
                    emitter.progress(held: update.heldBytes, total: update.totalBytes, received: update.receivedBytes, peer: update.peer)
                }
            }
            // Ctrl-C or SIGTERM stops the fetch through cancellation, so verified blocks are
            // flushed and the next run resumes from them.
            let interruption = InterruptionHandler { fetch.cancel() }
            defer { interruption.cancel() }
            do {
                _ = try await fetch.value
            } catch {
                bar?.finish()
                if fetch.isCancelled {
                    throw CommandFailure("interrupted; run the same command again to resume from the verified blocks")
                }
                throw CommandFailure("\(error)")
            }
            received = running.counters.snapshot.blockBytesReceived
            rejected = running.counters.snapshot.blocksRejected
        }
        bar?.finish()
        let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? UInt64) ?? 0
        if node.json {
            emitter.done(path: destination, id: contentID.hex, size: size, received: received, rejected: rejected)
        } else {
            let warning = rejected > 0 ? "; \(rejected) bad blocks from lying peers thrown away" : ""
            Output.line("fetched \(destination) (\(ByteCount.format(Int(size))), \(ByteCount.format(Int(received))) received from peers\(warning))")
            if showPeers { perPeer.printSummary() }
        }
    }
}

/// Bytes received from each peer, for `--peers`.
final class PeerTally: @unchecked Sendable {
    // Safety: every access holds `lock`.
    private let lock = NSLock()
    private var bytes: [String: UInt64] = [:]
    private let started = ContinuousClock.now

    func update(_ counts: [String: UInt64]) {
        lock.withLock { bytes.merge(counts) { max($0, $1) } }
    }

    func printSummary() {
        let elapsed = ContinuousClock.now - started
        let seconds = max(0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let counts = lock.withLock { bytes }
        for (peer, count) in counts.sorted(by: { $0.value > $1.value }) {
            Output.line("  \(peer)  \(ByteCount.format(Int(count)))  \(ByteCount.format(Int(Double(count) / seconds)))/s")
        }
    }
}

/// `--json` progress: one JSON object per line, `progress` events then one `done`.
struct JSONEventEmitter: Sendable {
    let enabled: Bool

    private struct Event: Encodable {
        var event: String
        var heldBytes: UInt64?
        var totalBytes: UInt64?
        var receivedBytes: UInt64?
        var peer: String?
        var path: String?
        var contentID: String?
        var size: UInt64?
        var rejectedBlocks: UInt64?

        enum CodingKeys: String, CodingKey {
            case event, peer, path, size
            case rejectedBlocks = "rejected_blocks"
            case heldBytes = "held_bytes"
            case totalBytes = "total_bytes"
            case receivedBytes = "received_bytes"
            case contentID = "content_id"
        }
    }

    func progress(held: UInt64, total: UInt64, received: UInt64, peer: String?) {
        emit(Event(event: "progress", heldBytes: held, totalBytes: total, receivedBytes: received, peer: peer))
    }

    func done(path: String, id: String, size: UInt64, received: UInt64, rejected: UInt64) {
        emit(Event(event: "done", receivedBytes: received, path: path, contentID: id, size: size, rejectedBlocks: rejected))
    }

    private func emit(_ event: Event) {
        guard enabled else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(event) { Output.line(String(decoding: data, as: UTF8.self)) }
    }
}
