import Foundation
import PeerDistHashing
import PeerDistMirror

/// A follower's loop: learn of new versions (announcements on the LAN within a second, a query
/// when it starts and now and then), and apply each one whole.
extension MirrorService {
    /// How often a follower asks the LAN itself, besides listening for announcements.
    static let followerQueryInterval: Duration = .seconds(10)
    /// How soon a follower tries again after a failed update.
    static let followerRetryInterval: Duration = .seconds(2)

    func runFollower(_ mirror: Mirror) async {
        do {
            // A follower killed while renaming files into place finishes that version first.
            try await offload { try self.recover(mirror) }
        } catch {
            record(error, for: mirror)
        }
        let key = mirror.name.discoveryKey
        var heard = -1
        var lastQuery: ContinuousClock.Instant?
        var retryAt: ContinuousClock.Instant?
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let announced = announcements.announcementCount(of: key)
            let queryDue = lastQuery.map { now - $0 >= Self.followerQueryInterval } ?? true
            if announced != heard || queryDue || retryAt.map({ now >= $0 }) == true {
                heard = announced
                if queryDue { lastQuery = now }
                retryAt = nil
                do {
                    try await update(mirror, askingTheLAN: queryDue)
                    mirror.update { $0.error = nil }
                } catch is CancellationError where Task.isCancelled {
                    return
                } catch {
                    record(error, for: mirror)
                    retryAt = .now + Self.followerRetryInterval
                }
                mirror.update { $0.activity = "idle" }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Finds the newest version any holder offers and, if it is newer than the directory's,
    /// fetches what is missing and applies it.
    func update(_ mirror: Mirror, askingTheLAN: Bool) async throws {
        let name = mirror.name
        let holders = await findHolders(name.discoveryKey, askingTheLAN)
        mirror.update { $0.peers = holders.count }
        guard !holders.isEmpty else { return }
        var client = MirrorManifestClient(identity: identity, counters: counters)
        client.heardAudience = { [privateMirrorHeard] audience in privateMirrorHeard(name.discoveryKey, audience) }
        let current = mirror.state.withLock { $0.manifest }

        // The newest root on offer, checked against the name before anything in it is used.
        var newest: (root: ManifestRoot, peer: PeerAddress)?
        for peer in holders {
            do {
                guard let bytes = try await client.withConnection(to: peer, { try await $0.root(of: name) }) else { continue }
                let root = try ManifestRoot(decoding: bytes, expecting: name)
                if root.version > (newest?.root.version ?? current?.version ?? 0) { newest = (root, peer) }
            } catch {
                logger.info("a holder's mirror root was refused", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
        }
        guard let (root, source) = newest else { return }
        if let current { try current.accepts(successor: root) }
        mirror.update {
            $0.activity = "fetching"
            $0.pendingVersion = root.version
        }

        let manifest = try await fetchManifest(root, of: name, from: source, current: current, client: client)

        let files = MirrorFiles(name: name, data: dataDirectory)
        let applied = try mirror.state.withLock { $0.applied } ?? appliedTree(of: mirror, manifest: current, files: files)
        let chunks = mirror.state.withLock { $0.chunks }
        let update = try await offload {
            try MirrorUpdate.prepare(directory: mirror.directory, from: applied, to: manifest.entries, version: manifest.version, index: chunks)
        }
        let commit: MirrorCommit
        do {
            // What the mirror's own files lack may be in other mirrors, snapshots or content.
            try await copyHeldChunks(into: update, for: manifest.entries, except: chunks)
            mirror.update { $0.pendingBytes = update.progress.missingBytes }
            let fetcher = MirrorChunkFetcher(identity: identity, counters: counters, logger: logger)
            // A chunk changed by an edit travels as a delta from the chunk the old file had there.
            // The places each missing chunk goes are needed only to choose bases, and a large
            // tree has hundreds of thousands: they are not kept through the fetch.
            let (missing, bases) = { () -> ([ChunkReference], DeltaBases) in
                let missing = update.missing
                return (missing.map(\.chunk), DeltaBases(missing: missing, applied: current?.entries ?? [], target: manifest.entries))
            }()
            let index = update.index
            try await fetcher.fetch(missing, of: name, from: holders, bases: { bases.base(of: $0).flatMap(index.read) }) { chunk, bytes in
                try update.store(bytes, for: chunk)
                mirror.update { $0.pendingBytes -= min($0.pendingBytes, UInt64(chunk.length)) }
            }
            mirror.update { $0.activity = "applying" }
            // Recorded before the commit's journal goes: a follower killed at any point comes
            // back on one version, and knows which (see `recover`).
            try files.write(manifest, as: .next)
            commit = try await offload {
                try update.commit { applied in
                    try files.write(stamps: applied)
                    try files.promoteNext()
                }
            }
        } catch {
            update.abandon()
            throw error
        }
        for moved in commit.movedAside {
            logger.warning("a local change was moved aside", metadata: ["mirror": "\(name)", "path": "\(moved.path)", "to": "\(moved.movedTo)"])
        }
        mirror.update { $0.applied = commit.applied }
        // The index the update filled (its own, on a first update) now lists the new version's files.
        let index = update.index
        mirror.install(manifest, chunks: index)
        logger.info("applied a mirror version", metadata: ["mirror": "\(name)", "version": "\(manifest.version)"])
        // Other followers may fetch from this node now.
        announcements.announce(name.discoveryKey)
    }

    /// What the directory holds of `manifest`'s version, by the stamps recorded when it was
    /// applied; stamped afresh when none were (every path then counts as the follower's own).
    private func appliedTree(of mirror: Mirror, manifest: MirrorManifest?, files: MirrorFiles) throws -> AppliedTree {
        guard let manifest else { return .empty }
        if let bytes = files.read(.local), let applied = try? StoredStamps.decode(bytes, manifest: manifest, source: files.path(.local)) {
            return applied
        }
        return try AppliedTree(stamping: manifest.entries, version: manifest.version, in: mirror.directory)
    }

    /// Finishes or discards an update a killed follower left, and loads the version the
    /// directory is on.
    func recover(_ mirror: Mirror) throws {
        let files = MirrorFiles(name: mirror.name, data: dataDirectory)
        let recovery = try MirrorUpdate.recover(directory: mirror.directory)
        if case .rolledForward(let version, _) = recovery, mirror.version != version {
            // Killed after the files were in place, before they were recorded: the next
            // manifest, written before the commit began, is the version they are.
            guard let bytes = files.read(.next), let manifest = try? StoredManifest.decode(bytes, name: mirror.name), manifest.version == version else {
                throw NodeError(.invalidState, "\(mirror.directory) was finished on version \(version), which this node has no record of")
            }
            let applied = try AppliedTree(stamping: manifest.entries, version: version, in: mirror.directory)
            try files.write(stamps: applied)
            try files.promoteNext()
            mirror.install(manifest, chunks: try LocalChunkIndex(root: mirror.directory, entries: manifest.entries))
            mirror.update { $0.applied = applied }
        }
        files.remove(.next)
    }

    /// The version `root` describes: from a diff against this node's version when the holder
    /// can give one and it checks out against the root's page hashes, else from the pages this
    /// node does not have.
    private func fetchManifest(
        _ root: ManifestRoot, of name: MirrorName, from source: PeerAddress, current: MirrorManifest?, client: MirrorManifestClient
    ) async throws -> MirrorManifest {
        try await client.withConnection(to: source) { session in
            if let current, let diff = try? await session.diff(of: name, from: current.version, to: root.version) {
                do {
                    return try MirrorManifest.rebuild(root: root, entries: try diff.apply(to: current.entries))
                } catch {
                    logger.info("a manifest diff did not match its root; fetching pages", metadata: ["mirror": "\(name)", "error": "\(error)"])
                }
            }
            var pages: [HashValue: [UInt8]] = [:]
            for hash in root.pageHashes {
                if let page = current?.page(hash) { pages[hash] = page }
            }
            let wanted = root.pageHashes.filter { pages[$0] == nil }
            if !wanted.isEmpty {
                pages.merge(try await session.pages(wanted, of: name)) { old, _ in old }
            }
            return try MirrorManifest.assemble(root: root, pages: pages)
        }
    }
}
