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
        let bar = node.json ? nil : ProgressBar(label: "fetch \(name.prefix(12))")
        let perPeer = PeerTally()
        let emitter = JSONEventEmitter(enabled: node.json)
        let hostedCacheAddress = hostedCache.flatMap { PeerAddress(parsing: $0) }
        let rate = maximumDownload.map { UInt64($0.bytes) }
        // A running node fetches it, serving the blocks to others as they land.
        let request = ControlRequest.fetchURL(.init(url: url, output: destination, replace: force, hostedCache: hostedCacheAddress, maximumRate: rate))
        let result: OriginFetchResult
        if let reply = try await node.askRunningNode(request, onEvent: { event in
            guard event.event == .progress, let held = event.heldBytes, let total = event.totalBytes else { return }
            perPeer.update(event.bytesByPeer ?? [:])
            bar?.update(done: held, total: total)
            emitter.progress(held: held, total: total, received: event.receivedBytes ?? 0, peer: event.peer)
        }) {
            result = OriginFetchResult(
                path: reply.path ?? destination, size: reply.size ?? 0, fromPeers: reply.fromPeers ?? 0, fromOrigin: reply.fromOrigin ?? 0,
                peerDist: reply.peerDist ?? false, rejectedBlocks: reply.rejectedBlocks ?? 0)
        } else {
            let running = try NodeRunner.open(node)
            let fetch = Task {
                try await running.fetch(url: url, output: destination, replace: force, hostedCache: hostedCacheAddress, maximumRate: rate) { update in
                    perPeer.update(update.bytesByPeer)
                    bar?.update(done: update.heldBytes, total: update.totalBytes)
                    emitter.progress(held: update.heldBytes, total: update.totalBytes, received: update.receivedBytes, peer: update.peer)
                }
            }
            let interruption = InterruptionHandler { fetch.cancel() }
            defer { interruption.cancel() }
            do {
                result = try await fetch.value
            } catch {
                bar?.finish()
                if fetch.isCancelled {
                    throw CommandFailure("interrupted; run the same command again to resume from the verified blocks")
                }
                throw CommandFailure("\(error)")
            }
        }
        bar?.finish()
        if node.json {
            // One line, after the `progress` lines, as `fetch ID --json` ends.
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            Output.line(String(decoding: try encoder.encode(Done(
                path: result.path, size: result.size, fromPeers: result.fromPeers, fromOrigin: result.fromOrigin, peerdist: result.peerDist,
                rejectedBlocks: result.rejectedBlocks)), as: UTF8.self))
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
