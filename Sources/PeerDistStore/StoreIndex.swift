import PeerDistHashing

/// The store's index in memory: what is published and cached, and the lookups serving needs
/// (segment ID → content and segment, content ID → layout and holders).
///
/// It changes only by `apply(_:)`, the same function that replays the log on open, so the index
/// after a restart is the index before it. No I/O happens here.
struct StoreIndex: Sendable {
    /// A file published in place.
    struct Publication: Sendable {
        var path: String
        var status: FileStatus
        var version: ContentInformationVersion
        var isStale: Bool
        var lastAccess: Int64
        var contentID: ContentID
    }

    /// A content in the cache directory.
    struct CacheEntry: Sendable {
        var contentID: ContentID
        var isComplete: Bool
        var size: UInt64
        var lastAccess: Int64
    }

    /// What the store knows of one content: its layout, and which publications and cache entry hold it.
    struct Content: Sendable {
        var layout: ContentLayout
        var publishedPaths: Set<String> = []
        var isCached = false
    }

    private(set) var contents: [ContentID: Content] = [:]
    private(set) var segments: [HashValue: (contentID: ContentID, segmentIndex: Int)] = [:]
    private(set) var publications: [String: Publication] = [:]
    private(set) var cache: [ContentID: CacheEntry] = [:]
    /// The last access time each content has in the log, so touches are logged only now and then.
    private(set) var loggedAccess: [ContentID: Int64] = [:]

    /// Applies one change. `layout` spares decoding the record's Content Information when the
    /// caller has it already; a record whose blob does not decode is ignored.
    mutating func apply(_ record: StoreLogRecord, layout: ContentLayout? = nil) {
        switch record {
        case .published(let publication):
            guard let layout = self.layout(for: publication.contentID, information: publication.information, given: layout) else { return }
            if let earlier = publications[publication.path] { release(path: earlier.path, of: earlier.contentID) }
            publications[publication.path] = Publication(
                path: publication.path, status: publication.status, version: publication.version,
                isStale: publication.isStale, lastAccess: publication.lastAccess, contentID: publication.contentID)
            hold(layout) { $0.publishedPaths.insert(publication.path) }
            noteLogged(publication.contentID, publication.lastAccess)
        case .unpublished(let path):
            guard let earlier = publications.removeValue(forKey: path) else { return }
            release(path: path, of: earlier.contentID)
        case .markedStale(let path):
            publications[path]?.isStale = true
        case .cached(let entry):
            guard let layout = self.layout(for: entry.contentID, information: entry.information, given: layout) else { return }
            cache[entry.contentID] = CacheEntry(
                contentID: entry.contentID, isComplete: entry.isComplete, size: entry.size, lastAccess: entry.lastAccess)
            hold(layout) { $0.isCached = true }
            noteLogged(entry.contentID, entry.lastAccess)
        case .completed(let id):
            cache[id]?.isComplete = true
        case .uncached(let id):
            guard cache.removeValue(forKey: id) != nil else { return }
            contents[id]?.isCached = false
            forgetIfUnheld(id)
        case .touched(let id, let time):
            guard contents[id] != nil else { return }
            touch(id, at: time)
            noteLogged(id, time)
        }
    }

    /// Records an access in memory only; `needsLogging` says when the log should hear of it.
    mutating func touch(_ id: ContentID, at time: Int64) {
        for path in contents[id]?.publishedPaths ?? [] { publications[path]?.lastAccess = time }
        cache[id]?.lastAccess = time
    }

    /// Whether an access at `time` is far enough past the logged one to be worth a log record:
    /// access times drive eviction order, which needs no precision finer than a minute.
    func needsLogging(_ id: ContentID, at time: Int64) -> Bool {
        time - (loggedAccess[id] ?? 0) >= 60_000_000_000
    }

    /// The records that rebuild this index, for compacting the log.
    func snapshot() -> [StoreLogRecord] {
        var records: [StoreLogRecord] = []
        for publication in publications.values.sorted(by: { $0.path < $1.path }) {
            guard let layout = contents[publication.contentID]?.layout else { continue }
            records.append(.published(PublicationRecord(
                path: publication.path, status: publication.status, version: publication.version,
                isStale: publication.isStale, lastAccess: publication.lastAccess, contentID: publication.contentID,
                information: layout.information.encoded())))
        }
        for entry in cache.values.sorted(by: { $0.lastAccess < $1.lastAccess }) {
            guard let layout = contents[entry.contentID]?.layout else { continue }
            records.append(.cached(CacheRecord(
                contentID: entry.contentID, isComplete: entry.isComplete, size: entry.size,
                lastAccess: entry.lastAccess, information: layout.information.encoded())))
        }
        return records
    }

    private mutating func noteLogged(_ id: ContentID, _ time: Int64) {
        loggedAccess[id] = max(loggedAccess[id] ?? 0, time)
    }

    private func layout(for id: ContentID, information: [UInt8], given: ContentLayout?) -> ContentLayout? {
        if let known = contents[id]?.layout { return known }
        if let given { return given }
        guard let decoded = try? ContentInformation(decoding: information) else { return nil }
        return try? ContentLayout(id: id, information: decoded)
    }

    private mutating func hold(_ layout: ContentLayout, _ change: (inout Content) -> Void) {
        var content = contents[layout.id] ?? Content(layout: layout)
        if contents[layout.id] == nil {
            // Two segments with the same bytes share an ID; either serves, so the first is kept.
            for segment in layout.segments where segments[segment.segmentID] == nil {
                segments[segment.segmentID] = (layout.id, segment.index)
            }
        }
        change(&content)
        contents[layout.id] = content
    }

    private mutating func release(path: String, of id: ContentID) {
        contents[id]?.publishedPaths.remove(path)
        forgetIfUnheld(id)
    }

    private mutating func forgetIfUnheld(_ id: ContentID) {
        guard let content = contents[id], content.publishedPaths.isEmpty, !content.isCached else { return }
        contents[id] = nil
        loggedAccess[id] = nil
        for segment in content.layout.segments where segments[segment.segmentID]?.contentID == id {
            segments[segment.segmentID] = nil
        }
    }
}
