import ArgumentParser
import Foundation
import PeerDist
import PeerDistMirror
import PeerDistCommandSupport

/// `fetch` of a directory's snapshot (`peerdist:tree:…`): the whole tree, one file of it
/// (`ID/PATH`), or its listing (`--list`).
extension FetchCommand {
    func validateTree(_ tree: SnapshotReference) throws {
        if maximumDownload != nil { throw ValidationError("--max-download applies to files; a directory's chunks are fetched at full speed.") }
        if showPeers { throw ValidationError("--peers shows what each peer sent of a file; it does not go with a directory's ID.") }
        if hostedCache != nil { throw ValidationError("--hosted-cache takes [address]:port, and goes with an http:// URL.") }
        if list, tree.path != nil { throw ValidationError("--list shows a whole directory; give its ID without /\(tree.path ?? "").") }
        if list, output != nil { throw ValidationError("--list prints the entries; it writes nothing, so -o does not go with it.") }
        for peer in peers where PeerAddress(parsing: peer) == nil {
            throw ValidationError("'\(peer)' is not a peer address; use [address]:port, e.g. [fe80::1%eth0]:7740.")
        }
    }

    func fetch(_ tree: SnapshotReference) async throws {
        let peerAddresses = peers.compactMap { PeerAddress(parsing: $0) }
        if list { return try await listTree(tree.id, peers: peerAddresses) }
        let defaultName = tree.path.map { String($0.split(separator: "/").last ?? "file") } ?? tree.id.base32
        let destination = URL(fileURLWithPath: output ?? defaultName).standardizedFileURL.path
        if !force, FileManager.default.fileExists(atPath: destination) {
            throw CommandFailure("\(destination) already exists (remove it, choose another -o, or pass --force)")
        }
        let parent = URL(fileURLWithPath: destination).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("\(parent) is not a directory; the output's parent must exist")
        }
        let bar = node.json ? nil : ProgressBar(label: "fetch \(tree.id.base32.prefix(8))")
        let emitter = JSONEventEmitter(enabled: node.json)
        let request = ControlRequest.fetchTree(.init(reference: tree, peers: peerAddresses, output: destination, replace: force))
        let reply = try await node.askRunningNode(request) { event in
            guard event.event == .progress, let held = event.heldBytes, let total = event.totalBytes else { return }
            bar?.update(done: held, total: total)
            emitter.progress(held: held, total: total, received: event.receivedBytes ?? 0, peer: event.peer)
        }
        let received: UInt64
        let size: UInt64
        if let reply {
            received = reply.receivedBytes ?? 0
            size = reply.totalBytes ?? 0
        } else {
            let running = try NodeRunner.open(node)
            let fetch = Task {
                try await running.mirrors.fetchSnapshot(tree, peers: peerAddresses, output: destination, replace: force) { update in
                    bar?.update(done: update.heldBytes, total: update.totalBytes)
                    emitter.progress(held: update.heldBytes, total: update.totalBytes, received: update.receivedBytes, peer: update.peer)
                }
            }
            // Ctrl-C or SIGTERM stops the fetch; what was staged stays for the next run.
            let interruption = InterruptionHandler { fetch.cancel() }
            defer { interruption.cancel() }
            do {
                let result = try await fetch.value
                received = result.receivedBytes
                size = result.bytes
            } catch {
                bar?.finish()
                if fetch.isCancelled {
                    throw CommandFailure("interrupted; run the same command again to resume from the verified chunks")
                }
                throw CommandFailure("\(error)")
            }
        }
        bar?.finish()
        if node.json {
            emitter.done(path: destination, id: tree.id.hex, size: size, received: received, rejected: 0)
        } else {
            Output.line("fetched \(destination) (\(ByteCount.format(Int(size))), \(ByteCount.format(Int(received))) received from peers)")
        }
    }

    private func listTree(_ id: SnapshotID, peers: [PeerAddress]) async throws {
        let entries: [TreeListingEntry]
        if let reply = try await node.askRunningNode(.listTree(id: id, peers: peers)) {
            entries = reply.tree ?? []
        } else {
            let running = try NodeRunner.open(node)
            do {
                entries = try await running.mirrors.snapshotManifest(id, peers: peers).manifest.entries.map(TreeListingEntry.init)
            } catch {
                throw CommandFailure("\(error)")
            }
        }
        if node.json {
            try Output.json(["entries": entries])
            return
        }
        let dates = ISO8601DateFormatter()
        for entry in entries {
            let mode = String(entry.mode, radix: 8)
            let kind = switch entry.kind {
            case .file: "-"
            case .directory: "d"
            case .symlink: "l"
            }
            let time = dates.string(from: Date(timeIntervalSince1970: TimeInterval(entry.modifiedSeconds)))
            let name = entry.target.map { "\(entry.path) -> \($0)" } ?? (entry.kind == .directory ? entry.path + "/" : entry.path)
            Output.line("\(kind) \(String(repeating: "0", count: max(0, 4 - mode.count)) + mode) \(String(entry.size).leftPadded(to: 12)) \(time) \(name)")
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
