import Foundation
import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// The node's local content: files published in place and contents fetched into a cache
/// directory, indexed by content ID and segment ID, every block verified before it is
/// first served (see `ServingTrust`).
///
/// On disk, in `directory` (mode 0700):
/// - `index.log`: the index, an append-only log of changes (`StoreLog`), compacted on open;
/// - `lock`: locked while the store is open, so only one `ContentStore` uses it (`StoreLock`);
/// - `cache/<hex id>.partial` and `.bitmap`: a download and its verified blocks;
/// - `cache/<hex id>.data`: a finished download.
///
/// All methods are synchronous and thread-safe; I/O on blocks happens outside the store's lock.
public final class ContentStore: Sendable {
    public let directory: String
    /// Bytes the cache may hold after `collectGarbage()`; published files never count.
    public let quotaBytes: UInt64?
    /// Bytes of a torn or damaged log tail that opening cut off (0 after a clean shutdown).
    public let discardedLogBytes: UInt64

    let cacheDirectory: String
    let flushInterval: UInt64
    private let lock: StoreLock
    let state: PThreadMutex<State>
    /// Blocks of published files hashed good, served again unhashed while their file's stamp holds.
    let servingTrust = PThreadMutex(ServingTrust())

    struct State: ~Copyable {
        var index = StoreIndex()
        let log: StoreLog
        /// Open downloads (incomplete cache entries), shared with their `Download`s.
        var partials: [ContentID: PartialContent] = [:]

        /// Logs a change, then applies it; if the log refuses it, nothing changes.
        mutating func commit(_ record: StoreLogRecord, durable: Bool = true, layout: ContentLayout? = nil) throws(StoreError) {
            try log.append(record, durable: durable)
            index.apply(record, layout: layout)
        }
    }

    /// Opens the store in `directory`, creating it if needed, and restores its index.
    ///
    /// - Parameter flushInterval: bytes a download writes between automatic flushes. 8 MiB bounds
    ///   what an interrupted fetch fetches again (the killed-fetch test holds it to that); 32 MiB
    ///   saved no measurable CPU (a flush is one `fdatasync` and a small bitmap file).
    public convenience init(directory: String, quotaBytes: UInt64?, flushInterval: UInt64 = 8 << 20) throws(StoreError) {
        try self.init(directory: directory, quotaBytes: quotaBytes, flushInterval: flushInterval, compactingAbove: 1 << 20)
    }

    /// - Parameter compactingAbove: log size past which opening compacts the log, when at least
    ///   half of it is superseded records.
    init(directory: String, quotaBytes: UInt64?, flushInterval: UInt64, compactingAbove threshold: UInt64) throws(StoreError) {
        try StorePaths.createDirectory(directory, mode: 0o700)
        // Absolute, so entries' paths and hard links keep working whatever the working directory.
        let directory = try StorePaths.resolve(directory)
        self.directory = directory
        self.quotaBytes = quotaBytes
        self.flushInterval = max(1, flushInterval)
        cacheDirectory = "\(directory)/cache"
        try StorePaths.createDirectory(cacheDirectory, mode: 0o700)
        lock = try StoreLock(directory: directory)

        let (log, replay) = try StoreLog.open(path: "\(directory)/index.log")
        var state = State(log: log)
        for record in replay.records { state.index.apply(record) }
        discardedLogBytes = replay.discardedBytes
        try Self.reconcileCache(&state, directory: cacheDirectory, flushInterval: self.flushInterval)

        if state.log.size > threshold {
            let compacted = state.index.snapshot()
            if state.log.size > 2 * StoreLog.compactedSize(of: compacted) { _ = try state.log.rewrite(with: compacted) }
        }
        self.state = PThreadMutex(state)
    }

    // MARK: Publishing

    /// Hashes the file at `path` and publishes it in place, replacing any earlier publication of
    /// the same file. The file is served from where it lies for as long as it is unchanged.
    @discardableResult
    public func publish(path: String, version: ContentInformationVersion = .v1) throws(StoreError) -> PublishedContent {
        let absolute = try StorePaths.resolve(path)
        guard let before = try FileStatus.of(absolute), before.isRegularFile else {
            throw StoreError(.invalidArgument, "\(absolute): not a regular file")
        }
        let hashingStarted = FileStamp.now()
        let stampBefore = FileStamp.of(absolute)
        let hashed: HashedContent
        do throws(FileHashingError) {
            hashed = try FileHasher(version: version).hash(path: absolute)
        } catch {
            throw StoreError(.io, error.description)
        }
        guard let after = try FileStatus.of(absolute), after.matches(before), hashed.length == before.size else {
            throw StoreError(.changed, "\(absolute): the file changed while it was being hashed; publish it again once it is written")
        }
        let id = ContentID(hashed)
        let record = PublicationRecord(
            path: absolute, status: before, version: version, isStale: false, lastAccess: StoreClock.now(),
            contentID: id, information: [])
        // Deriving segment secrets and IDs costs two HMACs a segment: done outside the lock.
        let fresh = ContentLayout(id: id, hashed: hashed)
        let layout = try state.withLock { (state) throws(StoreError) -> ContentLayout in
            let layout = state.index.contents[id]?.layout ?? fresh
            var logged = record
            logged.information = layout.information.encoded()
            try state.commit(.published(logged), layout: layout)
            return layout
        }
        // Every block was just hashed: served unhashed while the file keeps the stamp it had
        // throughout (a change while hashing would have moved its ctime).
        if let stampBefore, stampBefore.status.matches(before), FileStamp.of(absolute) == stampBefore {
            let settling = FileStamp.settlingNanoseconds(ofFileSystemAt: absolute)
            servingTrust.withLock {
                $0.verifiedAll(path: absolute, blockCount: layout.blockCount, stamp: stampBefore, now: hashingStarted, settling: settling)
            }
        } else {
            servingTrust.withLock { $0.forget(path: absolute) }
        }
        return Self.publishedContent(record, layout: layout)
    }

    /// Every publication, by path.
    public func published() -> [PublishedContent] {
        state.withLock { state in
            state.index.publications.values.sorted { $0.path < $1.path }.compactMap { publication in
                state.index.contents[publication.contentID].map { Self.publishedContent(publication, layout: $0.layout) }
            }
        }
    }

    /// Stops serving every file published with content `id`; the files are left alone.
    /// Returns how many publications there were.
    @discardableResult
    public func unpublish(id: ContentID) throws(StoreError) -> Int {
        try state.withLock { (state) throws(StoreError) -> Int in
            let paths = state.index.contents[id]?.publishedPaths.sorted() ?? []
            for path in paths { try state.commit(.unpublished(path: path)) }
            return paths.count
        }
    }

    /// Stops serving the file published at `path`; returns whether it was published.
    @discardableResult
    public func unpublish(path: String) throws(StoreError) -> Bool {
        let absolute = (try? StorePaths.resolve(path)) ?? path
        return try state.withLock { (state) throws(StoreError) -> Bool in
            guard state.index.publications[absolute] != nil else { return false }
            try state.commit(.unpublished(path: absolute))
            return true
        }
    }

    // MARK: Management

    /// Everything the store holds: publications and cache entries, by path.
    public func entries() -> [StoreEntry] {
        state.withLock { state in
            var entries: [StoreEntry] = []
            for publication in state.index.publications.values {
                entries.append(StoreEntry(
                    contentID: publication.contentID, kind: .published, isComplete: !publication.isStale,
                    isStale: publication.isStale, size: publication.status.size,
                    heldBytes: publication.isStale ? 0 : publication.status.size,
                    lastAccess: Self.date(publication.lastAccess), path: publication.path))
            }
            for entry in state.index.cache.values {
                let heldBytes = entry.isComplete ? entry.size : state.partials[entry.contentID]?.heldBytes ?? 0
                entries.append(StoreEntry(
                    contentID: entry.contentID, kind: .cached, isComplete: entry.isComplete, isStale: false,
                    size: entry.size, heldBytes: heldBytes, lastAccess: Self.date(entry.lastAccess),
                    path: cachePath(entry.contentID, entry.isComplete ? .data : .partial)))
            }
            return entries.sorted { $0.path < $1.path }
        }
    }

    /// Removes content `id`: deletes its cache files and index entry, and unpublishes it (never
    /// deleting a published file). A download of it in progress fails from then on.
    public func remove(contentID id: ContentID) throws(StoreError) {
        try state.withLock { (state) throws(StoreError) in
            guard let content = state.index.contents[id] else {
                throw StoreError(.notFound, "\(id.shortName) is not in the store")
            }
            for path in content.publishedPaths.sorted() { try state.commit(.unpublished(path: path)) }
            if content.isCached { try removeCached(id, from: &state) }
        }
    }

    /// Flushes every download in progress, as before a clean shutdown.
    public func flushDownloads() throws(StoreError) {
        let partials = state.withLock { Array($0.partials.values) }
        for partial in partials { try partial.flush() }
    }

    // MARK: Helpers

    enum CacheFile: String {
        case partial, bitmap, data
    }

    func cachePath(_ id: ContentID, _ file: CacheFile) -> String {
        "\(cacheDirectory)/\(id.hex).\(file.rawValue)"
    }

    /// Drops a cache entry from the index, then deletes its files; a crash in between leaves
    /// files without an entry, which `collectGarbage()` removes.
    func removeCached(_ id: ContentID, from state: inout State) throws(StoreError) {
        try state.commit(.uncached(id))
        state.partials.removeValue(forKey: id)?.markRemoved()
        for file in [CacheFile.data, .partial, .bitmap] { try? StorePaths.remove(cachePath(id, file)) }
    }

    /// Notes that content `id` was used now; logged only when the logged time is over a minute old.
    func touch(_ id: ContentID) {
        let now = StoreClock.now()
        state.withLock { state in
            if state.index.needsLogging(id, at: now), (try? state.log.append(.touched(id, at: now), durable: false)) != nil {
                state.index.apply(.touched(id, at: now))
            } else {
                state.index.touch(id, at: now)
            }
        }
    }

    static func date(_ nanoseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(nanoseconds) / 1e9)
    }

    private static func publishedContent(_ record: PublicationRecord, layout: ContentLayout) -> PublishedContent {
        PublishedContent(
            contentID: record.contentID, path: record.path, size: record.status.size,
            modificationTime: date(record.status.modified), inode: record.status.inode, version: record.version,
            information: layout.information, isStale: record.isStale)
    }

    private static func publishedContent(_ publication: StoreIndex.Publication, layout: ContentLayout) -> PublishedContent {
        PublishedContent(
            contentID: publication.contentID, path: publication.path, size: publication.status.size,
            modificationTime: date(publication.status.modified), inode: publication.status.inode,
            version: publication.version, information: layout.information, isStale: publication.isStale)
    }
}
