import Foundation
import Logging
import NIOPosix
import PeerDistHashing
import Synchronization
import PeerDistWire
import ServiceLifecycle
import PeerDistMirror

/// The mirrors a node publishes and follows: it keeps their records in the data directory,
/// runs one task per mirror (a publisher's watcher, a follower's update loop), and serves their
/// roots, pages and chunks to peers (`MirrorSource`).
public final class MirrorService: Sendable {
    let identity: NodeIdentity
    let dataDirectory: DataDirectory
    let counters: NodeCounters
    let announcements: HolderAnnouncements
    let logger: Logger
    /// Who holds the mirror with this discovery key: static peers, announcements, and with
    /// `true` a query on the LAN; never this node.
    let findHolders: @Sendable (_ key: HashValue, _ askTheLAN: Bool) async -> [PeerAddress]
    /// A holder said a followed mirror is private: the node keeps it to that audience.
    let privateMirrorHeard: @Sendable (_ key: HashValue, _ audience: Set<PeerKey>) -> Void
    /// The mirror chunks of the files the node holds as content: copied by fetches, never served.
    let contentChunks: ContentChunkCatalog?

    private let mirrors = PThreadMutex<[HashValue: Mirror]>([:])
    /// The snapshots this node holds in full, by discovery key (`MirrorService+Snapshots`).
    let snapshots = PThreadMutex<[HashValue: Snapshot]>([:])
    private let started: AsyncStream<Mirror>
    private let starting: AsyncStream<Mirror>.Continuation
    /// Serialises the scans of the mirrors this node publishes: each uses every core already.
    private let work = PThreadMutex(())

    init(
        identity: NodeIdentity, dataDirectory: DataDirectory, counters: NodeCounters, announcements: HolderAnnouncements, logger: Logger,
        findHolders: @escaping @Sendable (HashValue, Bool) async -> [PeerAddress],
        privateMirrorHeard: @escaping @Sendable (HashValue, Set<PeerKey>) -> Void = { _, _ in },
        contentChunks: ContentChunkCatalog? = nil
    ) {
        self.identity = identity
        self.contentChunks = contentChunks
        self.privateMirrorHeard = privateMirrorHeard
        self.dataDirectory = dataDirectory
        self.counters = counters
        self.announcements = announcements
        self.logger = logger
        self.findHolders = findHolders
        (started, starting) = AsyncStream.makeStream(of: Mirror.self)
        let (records, failures) = MirrorRecord.loadAll(in: dataDirectory)
        for failure in failures { logger.warning("skipping a mirror record", metadata: ["error": "\(failure)"]) }
        for record in records {
            guard let name = try? MirrorName(parsing: record.name) else { continue }
            let mirror = Mirror(name: name, role: record.role, directory: record.directory, watching: record.watch)
            if let bytes = MirrorFiles(name: name, data: dataDirectory).read(.manifest),
               let manifest = try? StoredManifest.decode(bytes, name: name),
               let chunks = try? LocalChunkIndex(root: record.directory, entries: manifest.entries) {
                mirror.install(manifest, chunks: chunks)
            }
            register(mirror)
        }
        loadSnapshots()
    }

    private func register(_ mirror: Mirror) {
        mirrors.withLock { $0[mirror.name.discoveryKey] = mirror }
        starting.yield(mirror)
    }

    private func mirror(named name: MirrorName) -> Mirror? {
        mirrors.withLock { $0[name.discoveryKey] }
    }

    public func statuses() -> [MirrorStatus] {
        mirrors.withLock { Array($0.values) }.map(\.status).sorted { $0.name < $1.name }
    }

    /// Whether the node holds a version of the mirror with this discovery key (to answer the LAN).
    func holds(_ key: HashValue) -> Bool {
        mirrors.withLock { $0[key] }?.version ?? 0 > 0 || snapshots.withLock { $0[key] } != nil
    }

    /// The chunk indexes of every mirror and snapshot this node holds: where a fetch looks for a
    /// chunk before asking peers for it.
    /// The files of this node's mirrors and snapshots that are exactly `size` bytes long, as
    /// paths: where a fetch by content ID may find the whole content already on disk.
    func localFiles(ofSize size: UInt64) -> [String] {
        var paths: [String] = []
        for mirror in mirrors.withLock({ Array($0.values) }) {
            let entries = mirror.state.withLock { $0.manifest?.entries ?? [] }
            paths += entries.filter { if case .file = $0.kind { $0.size == size } else { false } }.map { "\(mirror.directory)/\($0.path)" }
        }
        for snapshot in snapshots.withLock({ Array($0.values) }) {
            paths += snapshot.manifest.entries.filter { if case .file = $0.kind { $0.size == size } else { false } }.map { "\(snapshot.directory)/\($0.path)" }
        }
        return paths
    }

    func localChunkIndexes() -> [LocalChunkIndex] {
        mirrors.withLock { Array($0.values) }.compactMap { $0.state.withLock { $0.chunks } } + snapshots.withLock { $0.values.map(\.chunks) }
    }

    /// Fills what `update` misses with chunks this node holds anywhere: in its mirrors and
    /// snapshots (`except` the index the update filled from already), then in the files it
    /// holds as content (`ContentChunkCatalog`), those of the size of one of `entries`' files
    /// cut first if the background has not yet. Every chunk copied is checked against its
    /// SHA-256 by the index that read it.
    func copyHeldChunks(into update: MirrorUpdate, for entries: [MirrorEntry], except own: LocalChunkIndex? = nil) async throws {
        guard !update.missing.isEmpty else { return }
        let sizes = Set(entries.lazy.filter { !$0.chunks.isEmpty }.map(\.size))
        try await offload {
            var indexes = self.localChunkIndexes().filter { $0 !== own }
            if let contentChunks = self.contentChunks { indexes.append(contentChunks.update(cutting: .ofSizes(sizes))) }
            for missing in update.missing {
                for index in indexes {
                    guard let held = index.read(missing.chunk) else { continue }
                    try update.store(held, for: missing.chunk)
                    break
                }
            }
        }
    }

    /// The discovery keys of the mirrors this node holds a version of.
    func heldDiscoveryKeys() -> [HashValue] {
        mirrors.withLock { Array($0.values) }.filter { $0.version > 0 }.map(\.name.discoveryKey)
    }

    /// The version held of the mirror with `key`; 0 for none, or for content that is no mirror.
    func version(of key: HashValue) -> UInt64 {
        mirrors.withLock { $0[key] }?.version ?? 0
    }

    // MARK: Publishing

    /// The name `publish` gives `directory` with `classifier` (default: the directory's name),
    /// known before anything is published: a private mirror's audience is set first.
    public func name(forDirectory directory: String, classifier: String?) throws -> MirrorName {
        let classifier = classifier ?? MirrorName.classifier(suggestedBy: URL(fileURLWithPath: directory).lastPathComponent)
        return try MirrorName(publisher: identity.publicKey, classifier: classifier)
    }

    /// Publishes `directory` under `classifier` (default: the directory's name): scans it and,
    /// if it differs from the newest version, signs the next version. Returns at once for a
    /// directory already published; with `watch`, the node publishes again after each change.
    public func publish(directory: String, classifier: String?, watch: Bool) throws -> MirrorStatus {
        let name = try self.name(forDirectory: directory, classifier: classifier)
        let existing = self.mirror(named: name)
        if let existing {
            guard existing.role == .publisher else { throw NodeError(.invalidState, "this node follows \(name); it cannot publish it too") }
            guard existing.directory == directory else {
                throw NodeError(.invalidState, "\(name) is already published from \(existing.directory); choose another --name")
            }
            if existing.watching == watch {
                try publishVersion(of: existing)
                return existing.status
            }
        }
        // A new mirror, or a changed choice to watch: the watcher runs in the mirror's task, so
        // that takes a new record and task, with the versions published so far.
        let mirror = Mirror(name: name, role: .publisher, directory: directory, watching: watch)
        if let existing { existing.state.withLock { state in mirror.state.withLock { $0 = state } } }
        try publishVersion(of: mirror)
        try MirrorFiles(name: name, data: dataDirectory).write(mirror.record.encoded(), to: .record)
        register(mirror)
        return mirror.status
    }

    /// Scans the publisher's directory and signs a new version if anything changed.
    func publishVersion(of mirror: Mirror) throws {
        try work.withLock { _ in
            mirror.update { $0.activity = "scanning" }
            defer { mirror.update { $0.activity = "idle" } }
            let files = MirrorFiles(name: mirror.name, data: dataDirectory)
            let previous = mirror.state.withLock { $0.scanCache } ?? files.read(.local).flatMap { try? ScanCache(decoding: $0) }
            let scan = try TreeScanner(root: mirror.directory).scan(reusing: previous ?? ScanCache())
            for skipped in scan.skipped {
                logger.warning("not mirrored", metadata: ["mirror": "\(mirror.name)", "path": "\(skipped.path)", "reason": "\(skipped.reason)"])
            }
            let current = mirror.state.withLock { $0.manifest }
            mirror.update { $0.scanCache = scan.cache }
            if let current, current.entries == scan.entries {
                mirror.state.withLock { $0.chunks }?.trust(unchanged: scan.cache.stamps)
                return
            }
            let manifest = try MirrorManifest.build(
                entries: scan.entries, classifier: mirror.name.classifier, version: (current?.version ?? 0) + 1, identity: identity, createdAt: FileTime.now())
            try files.write(manifest)
            try files.write(scan.cache.encoded(), to: .local)
            // The index serving the last version becomes the new one's: two at once, for a moment,
            // were most of a publisher's peak memory.
            let chunks: LocalChunkIndex
            if let serving = mirror.state.withLock({ $0.chunks }), serving.root == mirror.directory {
                serving.replace(with: manifest.entries, unchanged: scan.cache.stamps)
                chunks = serving
            } else {
                chunks = try LocalChunkIndex(root: mirror.directory, entries: manifest.entries, unchanged: scan.cache.stamps)
            }
            mirror.install(manifest, chunks: chunks)
            logger.info("published a mirror version", metadata: ["mirror": "\(mirror.name)", "version": "\(manifest.version)"])
        }
        announcements.announce(mirror.name.discoveryKey)
    }

    // MARK: Following

    /// Follows the mirror `name` into `directory`: the node fetches and applies its newest version
    /// now and each new one it hears of.
    public func follow(name: MirrorName, directory: String) throws -> MirrorStatus {
        if let existing = self.mirror(named: name) {
            guard existing.role == .follower else { throw NodeError(.invalidState, "this node publishes \(name); it cannot follow it too") }
            guard existing.directory == directory else { throw NodeError(.invalidState, "\(name) is already followed into \(existing.directory)") }
            return existing.status
        }
        if let other = mirrors.withLock({ $0.values.first { $0.directory == directory } }) {
            throw NodeError(.invalidState, "\(directory) already holds mirror \(other.name)")
        }
        let mirror = Mirror(name: name, role: .follower, directory: directory, watching: false)
        try MirrorFiles(name: name, data: dataDirectory).write(mirror.record.encoded(), to: .record)
        register(mirror)
        return mirror.status
    }

    // MARK: Running

    /// Runs every mirror's task, those registered later included, until cancelled or shut down.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runMirrors() }
    }

    private func runMirrors() async {
        await withDiscardingTaskGroup { group in
            for await mirror in started {
                group.addTask {
                    switch mirror.role {
                    case .publisher: await self.runPublisher(mirror)
                    case .follower: await self.runFollower(mirror)
                    }
                }
            }
        }
    }

    private func runPublisher(_ mirror: Mirror) async {
        do {
            // Files may have changed while the node was down.
            try await offload { try self.publishVersion(of: mirror) }
        } catch {
            record(error, for: mirror)
        }
        guard mirror.watching else { return }
        let watcher: DirectoryWatcher
        do {
            watcher = try DirectoryWatcher(root: mirror.directory)
        } catch {
            record(error, for: mirror)
            return
        }
        while !Task.isCancelled, self.mirror(named: mirror.name) === mirror {
            watcher.watchTree()
            do {
                try await watcher.nextChange()
                try await offload { try self.publishVersion(of: mirror) }
            } catch is CancellationError where Task.isCancelled {
                return
            } catch {
                record(error, for: mirror)
            }
        }
    }

    func record(_ error: any Error, for mirror: Mirror) {
        logger.warning("mirror failed", metadata: ["mirror": "\(mirror.name)", "error": "\(error)"])
        mirror.update { $0.error = "\(error)" }
    }

    /// Runs blocking file work off the cooperative pool.
    func offload<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}

extension MirrorService: MirrorSource {
    public func sealedRoot(forDiscoveryKey key: HashValue) -> [UInt8]? {
        if let snapshot = snapshots.withLock({ $0[key] }) { return snapshot.sealedRoot }
        return mirrors.withLock { $0[key] }?.state.withLock { $0.sealedRoot }
    }

    public func page(forDiscoveryKey key: HashValue, hash: HashValue) -> [UInt8]? {
        if let snapshot = snapshots.withLock({ $0[key] }) { return snapshot.manifest.page(hash) }
        return mirrors.withLock { $0[key] }?.state.withLock { $0.manifest?.page(hash) }
    }

    public func diff(forDiscoveryKey key: HashValue, from: UInt64, to: UInt64) -> [UInt8]? {
        mirrors.withLock { $0[key] }?.diff(from: from, to: to)
    }

    public func chunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference) -> [UInt8]? {
        chunkIndex(forDiscoveryKey: key)?.read(chunk)
    }

    public func readChunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        chunkIndex(forDiscoveryKey: key)?.read(chunk, into: buffer) ?? false
    }

    /// Where the chunks of the snapshot or mirror with this discovery key are.
    private func chunkIndex(forDiscoveryKey key: HashValue) -> LocalChunkIndex? {
        if let snapshot = snapshots.withLock({ $0[key] }) { return snapshot.chunks }
        return mirrors.withLock { $0[key] }?.state.withLock { $0.chunks }
    }
}
