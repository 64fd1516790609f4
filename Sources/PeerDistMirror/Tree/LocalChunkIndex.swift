import PeerDistHashing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where this node holds each chunk of a mirrored tree: chunk hash → places in files below
/// `root`. A publisher serves peers from its scanned files; a follower from the version it applied
/// and from the staging files an update has filled, and reuses the same chunks to build the next
/// version without fetching them.
///
/// Files change behind the index's back, so `read` checks every chunk's SHA-256 before handing it
/// out, tries the chunk's other locations when one no longer holds it, and forgets locations found
/// stale. The exception is a file the index was told is unchanged since it was hashed (a
/// publisher's scan): while its stamp is the one given, checked after the read (the kernel moves
/// the change time on every write), its chunks are handed out without hashing them again.
///
/// Paths are opened below the root without following links
/// (`DirectoryHandle.openFile(relativePath:flags:)`), so a link swapped into the tree cannot make
/// the index read outside it. The files read last stay open for the next chunks
/// (`OpenFileCache`). Thread-safe.
public final class LocalChunkIndex: Sendable {
    /// A chunk's bytes in a file: `length` bytes at `offset` of `path`, relative to the root.
    public struct Location: Hashable, Sendable {
        public var path: String
        public var offset: UInt64
        public var length: UInt32

        public init(path: String, offset: UInt64, length: UInt32) {
            self.path = path
            self.offset = offset
            self.length = length
        }
    }

    public let root: String
    private let rootHandle: DirectoryHandle
    private let table: PThreadMutex<[HashValue: Places]>
    /// Files whose listed chunks need no hashing while they keep these stamps, by path.
    private let unchanged: PThreadMutex<[String: PathStamp]>
    private let openFiles = OpenFileCache(capacity: OpenFileCache.capacityForOpenFileLimit)
    /// Locations kept per chunk: enough to survive several changed files, without a file of
    /// zeros (one chunk repeated thousands of times) growing the index without bound.
    static let locationsPerChunk = 16

    /// Indexes the chunks of the files among `entries`, as laid out below `root`.
    ///
    /// - Parameter unchanged: stamps of files whose content was hashed into `entries` (and is not
    ///   racily clean; see `RacyStamp`): read without hashing while they keep them.
    public init(root: String, entries: [MirrorEntry] = [], unchanged: [String: PathStamp] = [:]) throws(MirrorError) {
        self.root = root
        rootHandle = try DirectoryHandle.open(root: root)
        table = PThreadMutex(Self.locations(of: entries))
        self.unchanged = PThreadMutex(unchanged)
    }

    /// Replaces the stamps of files known unchanged since hashing (after a scan found the same
    /// entries again).
    public func trust(unchanged stamps: [String: PathStamp]) {
        unchanged.withLock { $0 = stamps }
    }

    /// Distinct chunks with at least one location.
    public var chunkCount: Int { table.withLock { $0.count } }

    public func contains(_ hash: HashValue) -> Bool {
        table.withLock { $0[hash] != nil }
    }

    public func locations(of hash: HashValue) -> [Location] {
        table.withLock { $0[hash]?.all ?? [] }
    }

    /// Adds one more place that holds a chunk.
    public func add(_ hash: HashValue, at location: Location) {
        table.withLock { Self.insert(hash, location, into: &$0) }
    }

    /// Adds every chunk of the file at `path` (relative to the root), laid out from its start.
    public func add(file path: String, chunks: [ChunkReference]) {
        table.withLock { table in
            var offset: UInt64 = 0
            for chunk in chunks {
                Self.insert(chunk.hash, Location(path: path, offset: offset, length: chunk.length), into: &table)
                offset += UInt64(chunk.length)
            }
        }
    }

    /// Forgets every location in the file at `path`.
    public func removeLocations(inFile path: String) {
        openFiles.evict(path)
        table.withLock { table in
            for (hash, places) in table where places.contains(where: { $0.path == path }) {
                table[hash] = Places(places.all.filter { $0.path != path })
            }
        }
    }

    /// Replaces everything known with the files among `entries` (after an update the tree is the
    /// new version and staging files are gone; after a scan, the files are as scanned), and the
    /// stamps of files known unchanged since hashing with `unchanged`.
    ///
    /// The table is rebuilt in place, readers waiting meanwhile: building a second one beside it
    /// doubled the index's memory at every new version. Until the new stamps are in, the old ones apply to the new locations; a file that
    /// moved has another stamp, so its chunks are hashed as they are read.
    public func replace(with entries: [MirrorEntry], unchanged stamps: [String: PathStamp] = [:]) {
        table.withLock { table in
            table.removeAll(keepingCapacity: true)
            Self.insert(entries, into: &table)
        }
        unchanged.withLock { $0 = stamps }
        closeKeptFiles()
    }

    /// Closes the files kept open between reads, so that the space of any that were removed
    /// meanwhile (a discarded staging directory) is freed now.
    public func closeKeptFiles() {
        openFiles.removeAll()
    }

    /// The chunk's bytes from the first location that still holds them (same length, same
    /// SHA-256); nil when none does.
    public func read(_ chunk: ChunkReference) -> [UInt8]? {
        var found = false
        let bytes = [UInt8](unsafeUninitializedCapacity: Int(chunk.length)) { buffer, initialized in
            found = read(chunk, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = found ? Int(chunk.length) : 0
        }
        return found ? bytes : nil
    }

    /// Reads the chunk's verified bytes into the start of `buffer` (at least `chunk.length`
    /// bytes), from the first location that still holds them; false when none does (what the
    /// buffer then holds means nothing).
    public func read(_ chunk: ChunkReference, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= Int(chunk.length) else { return false }
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(chunk.length)])
        for location in locations(of: chunk.hash) where location.length == chunk.length {
            switch read(chunk, at: location, into: target) {
            case .verified:
                return true
            case .stale:
                forget(chunk.hash, at: location)
            case .unreadable:
                continue
            }
        }
        return false
    }

    private enum ReadOutcome {
        case verified
        /// The file is gone or holds other bytes there now.
        case stale
        /// A failure that may pass (out of descriptors, permissions): the location is kept.
        case unreadable
    }

    /// Reads through a file kept open from an earlier read when there is one; when that file no
    /// longer holds the chunk (the path may name another file now), through a fresh open.
    private func read(_ chunk: ChunkReference, at location: Location, into buffer: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        if let kept = openFiles.file(at: location.path) {
            let outcome = read(chunk, at: location, from: kept, into: buffer)
            if case .verified = outcome { return outcome }
            openFiles.evict(location.path)
        }
        let file: OpenFile
        do throws(MirrorError) {
            guard let opened = try rootHandle.openFile(relativePath: location.path, flags: O_RDONLY | O_NONBLOCK) else { return .stale }
            file = opened
        } catch {
            return .unreadable
        }
        openFiles.keep(file, at: location.path)
        return read(chunk, at: location, from: file, into: buffer)
    }

    /// `buffer` is exactly the chunk's length.
    private func read(_ chunk: ChunkReference, at location: Location, from file: OpenFile, into buffer: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        let count: Int
        do throws(MirrorError) {
            count = try file.read(into: buffer, at: location.offset)
        } catch {
            return .unreadable
        }
        guard count == buffer.count else { return .stale }
        if let stamp = unchanged.withLock({ $0[location.path] }), let status = try? file.status(), status.stamp == stamp {
            return .verified
        }
        guard HashAlgorithm.sha256.digest(UnsafeRawBufferPointer(buffer)) == chunk.hash else { return .stale }
        return .verified
    }

    private func forget(_ hash: HashValue, at location: Location) {
        table.withLock { table in
            guard let places = table[hash] else { return }
            table[hash] = Places(places.all.filter { $0 != location })
        }
    }

    private static func locations(of entries: [MirrorEntry]) -> [HashValue: Places] {
        var table: [HashValue: Places] = [:]
        insert(entries, into: &table)
        return table
    }

    private static func insert(_ entries: [MirrorEntry], into table: inout [HashValue: Places]) {
        table.reserveCapacity(entries.reduce(0) { $0 + $1.chunks.count })
        for entry in entries {
            var offset: UInt64 = 0
            for chunk in entry.chunks {
                insert(chunk.hash, Location(path: entry.path, offset: offset, length: chunk.length), into: &table)
                offset += UInt64(chunk.length)
            }
        }
    }

    private static func insert(_ hash: HashValue, _ location: Location, into table: inout [HashValue: Places]) {
        // In place: one lookup, and no copy of the list.
        table[hash, default: Places(first: location)].append(location)
    }

    /// A chunk's locations. A large tree has hundreds of thousands of chunks, nearly all in one
    /// place: the first is held inline, so such a chunk costs no allocation of its own.
    private struct Places {
        var first: Location
        var more: [Location] = []

        init(first: Location) {
            self.first = first
        }

        /// `nil` when `locations` is empty.
        init?(_ locations: [Location]) {
            guard let first = locations.first else { return nil }
            self.first = first
            more = Array(locations.dropFirst())
        }

        var all: [Location] { [first] + more }

        func contains(where matches: (Location) -> Bool) -> Bool {
            matches(first) || more.contains(where: matches)
        }

        mutating func append(_ location: Location) {
            guard 1 + more.count < LocalChunkIndex.locationsPerChunk, location != first, !more.contains(location) else { return }
            more.append(location)
        }
    }
}
