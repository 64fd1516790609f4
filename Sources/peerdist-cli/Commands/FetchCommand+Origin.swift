import Foundation
import PeerDist
import PeerDistCommandSupport

extension FetchCommand {
    /// `fetch http://…`: Content Information from the origin, blocks from peers, the rest from
    /// the origin; the final line says how many bytes came from each.
    func fetch(from url: OriginURL) async throws {
        let name = url.path.split(separator: "?").first?.split(separator: "/").last.map(String.init) ?? "index.html"
        let destination = URL(fileURLWithPath: output ?? (name.removingPercentEncoding ?? name)).standardizedFileURL.path
        if !force, FileManager.default.fileExists(atPath: destination) {
            throw CommandFailure("\(destination) already exists (remove it, choose another -o, or pass --force)")
        }
        if try await node.askRunningNode(.status) != nil {
            throw CommandFailure("a node runs on \(node.directory.path); fetch http:// runs a node of its own for now: stop it, or give another --data-dir")
        }
        let running = try NodeRunner.open(node)
        let bar = node.json ? nil : ProgressBar(label: "fetch \(name.prefix(12))")
        let perPeer = PeerTally()
        let fetch = Task {
            try await running.fetch(url: url, output: destination, replace: force, hostedCache: hostedCache.flatMap { PeerAddress(parsing: $0) }) { update in
                perPeer.update(update.bytesByPeer)
                bar?.update(done: update.heldBytes, total: update.totalBytes)
            }
        }
        let interruption = InterruptionHandler { fetch.cancel() }
        defer { interruption.cancel() }
        let result: OriginFetchResult
        do {
            result = try await fetch.value
        } catch {
            bar?.finish()
            if fetch.isCancelled {
                throw CommandFailure("interrupted; run the same command again to resume from the verified blocks")
            }
            throw CommandFailure("\(error)")
        }
        bar?.finish()
        if node.json {
            try Output.json(Done(
                path: result.path, size: result.size, fromPeers: result.fromPeers, fromOrigin: result.fromOrigin, peerdist: result.peerDist,
                rejectedBlocks: result.rejectedBlocks))
        } else {
            let how = result.peerDist ? "" : "; the origin declined BranchCache"
            let lies = result.rejectedBlocks > 0 ? "; \(result.rejectedBlocks) bad blocks from lying peers thrown away" : ""
            Output.line("fetched \(result.path) (\(ByteCount.format(Int(result.size))): \(ByteCount.format(Int(result.fromPeers))) from peers, \(ByteCount.format(Int(result.fromOrigin))) from the origin\(how)\(lies))")
            if showPeers { perPeer.printSummary() }
        }
    }

    private struct Done: Encodable {
        var event = "done"
        var path: String
        var size: UInt64
        var fromPeers: UInt64
        var fromOrigin: UInt64
        var peerdist: Bool
        var rejectedBlocks: UInt64

        enum CodingKeys: String, CodingKey {
            case event, path, size, peerdist
            case rejectedBlocks = "rejected_blocks"
            case fromPeers = "from_peers"
            case fromOrigin = "from_origin"
        }
    }
}
