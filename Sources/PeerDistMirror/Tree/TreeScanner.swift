import Dispatch
import PeerDistHashing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Reads a publisher's directory into the sorted entries of a manifest.
///
/// Files, directories (empty ones too) and symbolic links become `MirrorEntry`s; names starting
/// with `.peerdist-` (the mirror's own) are passed over, and FIFOs, sockets, devices, names that
/// are not UTF-8 and links leading out of the tree are listed in `TreeScan.skipped` instead.
///
/// Only files whose stamp (size, mtime, ctime, inode) differs from the previous scan's are read
/// again; the walk takes one `lstat` per path. Those files are hashed on all cores, each read
/// through a 1 MiB buffer. A file whose stamp moves while it is read is read again, and after
/// three tries is reported (`.changedWhileHashing`) rather than recorded with chunks it may not
/// have.
public struct TreeScanner: Sendable {
    public let root: String
    public let threads: Int
    /// Called with a file's path after each full read of it, before its stamp is checked again
    /// (lets tests change a file at exactly that moment).
    let afterReading: (@Sendable (_ path: String) -> Void)?

    /// How many times a file that changes while it is read is read again before it is reported.
    static let attempts = 3

    /// - Parameter threads: hashing threads; defaults to one per online processor.
    public init(root: String, threads: Int? = nil) {
        self.init(root: root, threads: threads, afterReading: nil)
    }

    init(root: String, threads: Int?, afterReading: (@Sendable (_ path: String) -> Void)?) {
        self.root = root
        self.threads = max(1, threads ?? FileHasher.processorCount)
        self.afterReading = afterReading
    }

    /// Scans the tree, reusing `cache`'s chunks for files whose stamps it still matches.
    public func scan(reusing cache: ScanCache = ScanCache()) throws(MirrorError) -> TreeScan {
        let started = FileTime.now()
        let rootHandle = try DirectoryHandle.open(root: root)
        var walk = Walk(cache: cache)
        try walk.visit(rootHandle, prefix: "")

        let hashed = try hash(walk.pending, root: rootHandle)
        var result = TreeScan(entries: walk.entries, skipped: walk.skipped, cache: walk.reused)
        result.statistics.filesReused = walk.reused.count
        for (pending, outcome) in zip(walk.pending, hashed) {
            switch outcome {
            case .hashed(let entry, let stamp, let bytesRead):
                result.entries.append(entry)
                result.statistics.filesHashed += 1
                result.statistics.bytesHashed += bytesRead
                if !RacyStamp.isRacy(stamp, scanStarted: started) {
                    result.cache.records[entry.path] = ScanCache.Record(stamp: stamp, chunks: entry.chunks)
                }
            case .changedWhileHashing(let bytesRead):
                result.statistics.bytesHashed += bytesRead
                result.skipped.append(SkippedPath(path: pending.path, reason: .changedWhileHashing))
            case .vanished:
                break
            }
        }
        result.entries = result.entries.sorted(byPathBytes: \.path)
        result.skipped = result.skipped.sorted(byPathBytes: \.path)
        return result
    }

    /// Hashes `files` on up to `threads` threads; outcomes are in the same order as `files`.
    private func hash(_ files: [Walk.PendingFile], root: DirectoryHandle) throws(MirrorError) -> [HashOutcome] {
        let outcomes = PThreadMutex<[HashOutcome]>(Array(repeating: .vanished, count: files.count))
        let afterReading = afterReading
        try WorkerPool.run(tasks: files.count, workers: threads, state: { _ in HashingWorker() }) { (index, worker: inout HashingWorker) throws(MirrorError) in
            let outcome = try Self.hash(files[index], root: root, parent: &worker.parent, hasher: worker.hasher, afterReading: afterReading)
            outcomes.withLock { $0[index] = outcome }
        }
        return outcomes.withLock { $0 }
    }

    /// What a hashing thread keeps from one file to the next: its read buffer, and the directory
    /// it opened last (files come in path order, so its next file is mostly in the same one).
    private struct HashingWorker: ~Copyable {
        let hasher = FileChunkHasher()
        var parent: (path: String, handle: DirectoryHandle)?
    }

    /// Reads one file until two `fstat`s around a full read agree, and the path still names it.
    /// `kept` is the directory this worker opened last, reused for a first attempt in the same
    /// directory; a retry opens the directory afresh.
    private static func hash(
        _ file: Walk.PendingFile, root: DirectoryHandle, parent kept: inout (path: String, handle: DirectoryHandle)?,
        hasher: borrowing FileChunkHasher, afterReading: (@Sendable (String) -> Void)?
    ) throws(MirrorError) -> HashOutcome {
        let (parentPath, name) = TreeWalker.split(file.path)
        var bytesRead: UInt64 = 0
        for attempt in 1...attempts {
            let parent: DirectoryHandle
            if attempt == 1, let kept, kept.path == parentPath {
                parent = kept.handle
            } else {
                guard let opened = try root.openDirectory(components: parentPath.byteComponents) else { return .vanished }
                parent = opened
                kept = (parentPath, opened)
            }
            let opened: OpenFile
            do throws(MirrorError) {
                opened = try parent.openFile(name, flags: O_RDONLY | O_NONBLOCK)
            } catch where error.hasErrno(ENOENT) || error.hasErrno(ELOOP) {
                // Removed, or replaced by a link, since the walk saw it.
                return .vanished
            }
            let before = try opened.status()
            guard before.kind == .file else { return .vanished }
            let (chunks, length) = try hasher.chunks(of: opened)
            bytesRead += length
            afterReading?(file.path)
            let after = try opened.status()
            // The path must still lead to the file read: a file renamed over it meanwhile is
            // the one to record.
            let current = try parent.status(name)
            guard length == before.size, after.stamp == before.stamp, current?.stamp == after.stamp else { continue }
            let entry = MirrorEntry(path: file.path, kind: .file(chunks: chunks), mode: before.mode, modified: before.modified)
            return .hashed(entry, before.stamp, bytesRead: bytesRead)
        }
        return .changedWhileHashing(bytesRead: bytesRead)
    }

    private enum HashOutcome: Sendable {
        case hashed(MirrorEntry, PathStamp, bytesRead: UInt64)
        case changedWhileHashing(bytesRead: UInt64)
        /// Gone, or no longer a regular file: the tree changed under the scan, and the path is
        /// left out as if the walk had not seen it.
        case vanished
    }
}

/// What a scan found.
public struct TreeScan: Sendable {
    public struct Statistics: Sendable, Equatable {
        /// Files read and chunked by this scan.
        public var filesHashed = 0
        /// Files whose chunks came from the previous scan's cache.
        public var filesReused = 0
        /// Bytes read to hash them, counting rereads of files that changed while being read.
        public var bytesHashed: UInt64 = 0
    }

    /// Every path of the tree, sorted by the bytes of their paths.
    public var entries: [MirrorEntry]
    /// Paths that are not in `entries`, and why.
    public var skipped: [SkippedPath]
    /// What the next scan of the same tree should reuse.
    public var cache: ScanCache
    public var statistics = Statistics()

    init(entries: [MirrorEntry], skipped: [SkippedPath], cache: ScanCache) {
        self.entries = entries
        self.skipped = skipped
        self.cache = cache
    }
}

/// A path a scan found but could not put in a manifest.
public struct SkippedPath: Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        case fifo
        case socket
        case device
        /// The name is not valid UTF-8 (the path shows it with replacement characters).
        case nameNotUTF8
        /// A symbolic link whose target is absolute, climbs above the root, or is not UTF-8.
        case symlinkLeavesTree
        /// The file kept changing while it was read.
        case changedWhileHashing
    }

    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// The walk of a scan: entries for everything but the files whose chunks must be computed,
/// which it lists instead.
private struct Walk {
    struct PendingFile: Sendable {
        var path: String
    }

    let cache: ScanCache
    var entries: [MirrorEntry] = []
    var skipped: [SkippedPath] = []
    var pending: [PendingFile] = []
    /// Cache records still valid, carried into the new cache.
    var reused = ScanCache()

    init(cache: ScanCache) {
        self.cache = cache
    }

    mutating func visit(_ directory: DirectoryHandle, prefix: String) throws(MirrorError) {
        for rawName in try directory.names() {
            guard let name = String(validating: rawName, as: UTF8.self) else {
                let shown = String(decoding: rawName, as: UTF8.self)
                skipped.append(SkippedPath(path: prefix.isEmpty ? shown : "\(prefix)/\(shown)", reason: .nameNotUTF8))
                continue
            }
            if name.hasPrefix(MirrorNames.reservedPrefix) { continue }
            // Gone since the listing: not part of the tree any more.
            guard let status = try directory.status(name) else { continue }
            let path = prefix.isEmpty ? name : "\(prefix)/\(name)"
            switch status.kind {
            case .directory:
                entries.append(MirrorEntry(path: path, kind: .directory, mode: status.mode, modified: status.modified))
                // Nil when it was replaced since the `lstat`; the next scan sees what is there.
                if let child = try directory.openDirectory(name) {
                    try visit(child, prefix: path)
                }
            case .symlink:
                let target = try directory.readLink(name)
                guard let text = String(validating: target, as: UTF8.self), SymlinkTarget.staysInside(text, linkPath: path) else {
                    skipped.append(SkippedPath(path: path, reason: .symlinkLeavesTree))
                    continue
                }
                entries.append(MirrorEntry(path: path, kind: .symlink(target: text), mode: status.mode, modified: status.modified))
            case .file:
                if let record = cache.records[path], status.stamp == record.stamp {
                    entries.append(MirrorEntry(path: path, kind: .file(chunks: record.chunks), mode: status.mode, modified: status.modified))
                    reused.records[path] = record
                } else {
                    pending.append(PendingFile(path: path))
                }
            case .fifo:
                skipped.append(SkippedPath(path: path, reason: .fifo))
            case .socket:
                skipped.append(SkippedPath(path: path, reason: .socket))
            case .device:
                skipped.append(SkippedPath(path: path, reason: .device))
            }
        }
    }
}

/// A stamp taken too close to the scan to be trusted next time. File times come from a clock
/// that ticks every few milliseconds, so a file written again within the same tick after the scan
/// read it keeps its stamp (git calls such index entries "racily clean"). Such files are not
/// cached, so the next scan reads them again.
enum RacyStamp {
    /// Wider than a kernel clock tick (at most 10 ms).
    static let window: Int64 = 100_000_000
    /// For file systems that keep whole seconds only (FAT keeps two).
    static let coarseWindow: Int64 = 2_000_000_000

    static func isRacy(_ stamp: PathStamp, scanStarted: FileTime) -> Bool {
        let coarse = stamp.modified.nanoseconds == 0 && stamp.changed.nanoseconds == 0
        let limit = scanStarted.totalNanoseconds - (coarse ? coarseWindow : window)
        return stamp.modified.totalNanoseconds >= limit || stamp.changed.totalNanoseconds >= limit
    }
}

/// Where a symbolic link leads, judged from its text alone.
enum SymlinkTarget {
    /// Whether `target`, read from the link at `linkPath`, names a path inside the tree: it is
    /// relative and never climbs above the root. It may still dangle.
    static func staysInside(_ target: String, linkPath: String) -> Bool {
        guard !target.isEmpty, !target.hasPrefix("/") else { return false }
        var depth = linkPath.split(separator: "/").count - 1
        for component in target.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                depth -= 1
                if depth < 0 { return false }
            default: depth += 1
            }
        }
        return true
    }
}

/// Names in a mirrored directory that belong to PeerDist and never to a manifest.
enum MirrorNames {
    static let reservedPrefix = ".peerdist-"
    static let staging = ".peerdist-staging"
    static let journal = ".peerdist-journal"
    static let journalTemporary = ".peerdist-journal.tmp"
    /// Inserted between a name and the version when a local change is moved aside.
    static let conflictInfix = ".peerdist-conflict-"
}
