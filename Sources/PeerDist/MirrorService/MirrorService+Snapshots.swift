import Foundation
import PeerDistHashing
import PeerDistMirror

/// A directory by hash: an immutable snapshot of a tree is a mirror manifest named by the hash of
/// its root (`SnapshotID`) instead of by a signed name. It travels like a mirror version (sealed
/// root, pages and chunks by hash, on the same messages) and is written like one (staged, checked
/// against the same safety rules, renamed into place), beside the destination rather than in it.
extension MirrorService {
    /// What `publishSnapshot` made of a directory.
    public struct PublishedSnapshot: Sendable {
        public var id: SnapshotID
        public var files: Int
        public var directories: Int
        public var links: Int
        public var bytes: UInt64
        /// Paths left out (sockets, unreadable files), with why.
        public var skipped: [String]
    }

    /// How a snapshot fetch ended.
    public struct SnapshotFetchResult: Sendable {
        public var path: String
        /// Bytes of the files (or of the one file) written.
        public var bytes: UInt64
        /// Chunk bytes received from peers; the rest came from chunks this node held.
        public var receivedBytes: UInt64
    }

    /// What a snapshot fetch has so far, for its progress.
    private struct FetchTally {
        var held: UInt64
        var received: UInt64 = 0
        var reported: ContinuousClock.Instant?
    }

    func loadSnapshots() {
        let (loaded, failures) = SnapshotRecord.loadAll(in: dataDirectory)
        for failure in failures { logger.warning("skipping a snapshot record", metadata: ["error": "\(failure)"]) }
        for (record, manifest) in loaded {
            // Nothing is trusted unhashed after a restart: the index checks every chunk it reads.
            guard let chunks = try? LocalChunkIndex(root: record.directory, entries: manifest.entries) else {
                logger.warning("a snapshot's directory is gone; not serving it", metadata: ["snapshot": "\(manifest.id)", "directory": "\(record.directory)"])
                continue
            }
            let snapshot = Snapshot(manifest: manifest, directory: record.directory, role: record.role, chunks: chunks)
            snapshots.withLock { $0[manifest.id.discoveryKey] = snapshot }
        }
    }

    /// Scans `directory` into a snapshot, serves it in place from now on and announces it.
    /// Publishing an unchanged tree again gives the same ID.
    public func publishSnapshot(directory: String) throws -> PublishedSnapshot {
        let scan = try TreeScanner(root: directory).scan()
        for skipped in scan.skipped {
            logger.warning("not in the snapshot", metadata: ["directory": "\(directory)", "path": "\(skipped.path)", "reason": "\(skipped.reason)"])
        }
        let manifest = try SnapshotManifest.build(entries: scan.entries)
        let chunks = try LocalChunkIndex(root: directory, entries: manifest.entries, unchanged: scan.cache.stamps)
        let snapshot = Snapshot(manifest: manifest, directory: directory, role: .published, chunks: chunks)
        try keep(snapshot)
        logger.info("published a snapshot", metadata: ["snapshot": "\(manifest.id)", "directory": "\(directory)"])
        var published = PublishedSnapshot(id: manifest.id, files: 0, directories: 0, links: 0, bytes: manifest.totalFileBytes, skipped: scan.skipped.map(\.description))
        for entry in manifest.entries {
            switch entry.kind {
            case .file: published.files += 1
            case .directory: published.directories += 1
            case .symlink: published.links += 1
            }
        }
        return published
    }

    /// Records and serves `snapshot`, replacing any other the node kept for the same directory.
    private func keep(_ snapshot: Snapshot) throws {
        try SnapshotRecord.save(snapshot, in: dataDirectory)
        let replaced = snapshots.withLock { snapshots in
            let stale = snapshots.values.filter { $0.directory == snapshot.directory && $0.id != snapshot.id }.map(\.id)
            for id in stale { snapshots[id.discoveryKey] = nil }
            snapshots[snapshot.id.discoveryKey] = snapshot
            return stale
        }
        for id in replaced { SnapshotRecord.remove(id, in: dataDirectory) }
        announcements.announce(snapshot.id.discoveryKey)
    }

    /// The snapshot `id`: this node's own when it holds it, else the root and pages from the
    /// first of `peers` (or, with none, of the holders discovery finds) that has them, the root
    /// checked against the ID and the entries against the safety rules. Also returns who was asked.
    public func snapshotManifest(_ id: SnapshotID, peers: [PeerAddress]) async throws -> (manifest: SnapshotManifest, holders: [PeerAddress]) {
        if let held = snapshots.withLock({ $0[id.discoveryKey] }) { return (held.manifest, peers) }
        let holders = peers.isEmpty ? await findHolders(id.discoveryKey, true) : peers
        guard !holders.isEmpty else { throw NodeError(.notFound, "no peer was found that holds snapshot \(id)") }
        let client = MirrorManifestClient(identity: identity, counters: counters)
        var failures: [String] = []
        for peer in holders {
            do {
                let manifest = try await client.withConnection(to: peer) { session -> SnapshotManifest? in
                    guard let bytes = try await session.root(of: id) else { return nil }
                    let root = try SnapshotRoot(decoding: bytes, expecting: id)
                    let pages = try await session.pages(root.pageHashes, of: id)
                    return try SnapshotManifest.assemble(root: root, pages: pages)
                }
                if let manifest { return (manifest, holders) }
                failures.append("\(peer): does not hold it")
            } catch {
                logger.info("a holder's snapshot manifest was refused", metadata: ["peer": "\(peer)", "error": "\(error)"])
                failures.append("\(peer): \(error)")
            }
        }
        let asked = holders.count == 1 ? "the peer asked" : "any of the \(holders.count) peers asked"
        throw NodeError(.notFound, "snapshot \(id) could not be had from \(asked) (\(failures.joined(separator: "; ")))")
    }

    /// Fetches the snapshot (`reference.path` nil) or one file of it to `output`: chunks this node
    /// holds anywhere (mirrors, other snapshots, files held as content) are copied, the rest fetched from holders and
    /// checked against their hashes, and the result renamed into place once complete. Killed or
    /// cancelled, it leaves its staging directory, from which the next fetch resumes. A whole
    /// tree fetched is kept and served as a snapshot this node holds.
    public func fetchSnapshot(
        _ reference: SnapshotReference, peers: [PeerAddress], output: String, replace: Bool,
        progress: @escaping @Sendable (FetchProgress) -> Void
    ) async throws -> SnapshotFetchResult {
        let id = reference.id
        let (manifest, holders) = try await snapshotManifest(id, peers: peers)
        let placement: SnapshotStage.Placement = reference.path.map { .file($0) } ?? .tree
        let stage = try await offload {
            try SnapshotStage(destination: output, id: id, entries: manifest.entries, placement: placement, replacing: replace)
        }
        let bytes: UInt64
        if case .file(let path) = placement { bytes = manifest.entry(at: path)?.size ?? 0 } else { bytes = manifest.totalFileBytes }
        var received: UInt64 = 0
        if let update = stage.update {
            // A chunk held anywhere on this node, files held as content included, is copied, not fetched.
            let needed = reference.path.flatMap { manifest.entry(at: $0) }.map { [$0] } ?? manifest.entries
            try await copyHeldChunks(into: update, for: needed)
            let start = update.progress
            let total = start.heldBytes + start.missingBytes
            progress(FetchProgress(heldBytes: start.heldBytes, totalBytes: total, receivedBytes: 0, peer: nil))
            let missing = update.missing.map(\.chunk)
            if !missing.isEmpty {
                let localHolders = holders.isEmpty ? await findHolders(id.discoveryKey, true) : holders
                guard !localHolders.isEmpty else { throw NodeError(.notFound, "no peer was found that holds snapshot \(id)") }
                let tally = PThreadMutex(FetchTally(held: start.heldBytes))
                let fetcher = MirrorChunkFetcher(identity: identity, counters: counters, logger: logger)
                try await fetcher.fetch(missing, of: id, from: localHolders) { chunk, bytes in
                    try update.store(bytes, for: chunk)
                    let report = tally.withLock { tally -> FetchProgress? in
                        tally.held += UInt64(chunk.length)
                        tally.received += UInt64(bytes.count)
                        let now = ContinuousClock.now
                        // At most ten a second, and always the last.
                        guard tally.held == total || tally.reported.map({ now - $0 >= .milliseconds(100) }) ?? true else { return nil }
                        tally.reported = now
                        return FetchProgress(heldBytes: tally.held, totalBytes: total, receivedBytes: tally.received, peer: nil)
                    }
                    if let report { progress(report) }
                }
                received = tally.withLock { $0.received }
            }
        }
        try await offload { try stage.finish() }
        if case .tree = placement {
            do {
                let chunks = try LocalChunkIndex(root: output, entries: manifest.entries)
                try keep(Snapshot(manifest: manifest, directory: output, role: .fetched, chunks: chunks))
            } catch {
                logger.warning("a fetched snapshot is in place but will not be served", metadata: ["snapshot": "\(id)", "error": "\(error)"])
            }
        }
        return SnapshotFetchResult(path: output, bytes: bytes, receivedBytes: received)
    }
}
