import PeerDistHashing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Turns a follower's directory from the version it applied into a new one, so that no reader
/// ever sees a half-written file and a crash at any point ends on one version or the other.
///
/// 1. `prepare` builds every file and link that is new or different in
///    `DIR/.peerdist-staging/` (mode 0700), filling each file with the chunks this node already
///    holds: copied in the kernel from the applied version's files that are still as recorded
///    (`UnchangedFileCopier`), else read from any file that has them and checked against their
///    SHA-256. It returns the chunks still missing, each once with every place it goes. The tree
///    itself is not touched.
/// 2. `store` writes a fetched chunk at every place that needs it.
/// 3. `commit`, once nothing is missing, flushes the staged files with their modes and times,
///    writes `DIR/.peerdist-journal`, makes its operations (`UpdatePlan` lists their order),
///    flushes the directories, and removes the journal and staging directory.
///
/// `recover(directory:)` is for start-up: it finishes a commit the journal records, or discards a
/// staging directory without one (the tree is still on the applied version).
///
/// Local changes are never lost: a path the commit has to replace or remove that no longer
/// matches the stamp the applied version recorded is renamed to `NAME.peerdist-conflict-<version>`
/// in its directory first (see `JournalRunner`). Paths neither version has are left alone.
///
/// Nothing is written outside DIR: every operation is relative to directory descriptors opened
/// without following links, and a link or file found where a directory is needed is moved aside.
///
/// A failure during `prepare` or `store` (a full disk included) removes the staging directory
/// and leaves the tree exactly on the applied version; so does one in `commit` before the journal
/// is written. One after that leaves the journal for `recover`. One update at a time per
/// directory; an update dropped without `commit` or `abandon` leaves its staging directory for
/// the next `prepare` or `recover` to remove. Thread-safe.
public final class MirrorUpdate: Sendable {
    /// A place a missing chunk goes: `offset` in the new version's file at `path`.
    public struct Destination: Hashable, Sendable {
        public let path: String
        public let offset: UInt64
    }

    /// A chunk no local file holds, and every place in the new version that needs it.
    public struct MissingChunk: Hashable, Sendable {
        public let chunk: ChunkReference
        public let destinations: [Destination]
    }

    /// Bytes of the distinct chunks the staged files need: held (filled locally or stored) and
    /// missing (still to fetch).
    public struct Progress: Hashable, Sendable {
        public var missingChunks: Int
        public var missingBytes: UInt64
        public var heldBytes: UInt64
    }

    public let directory: String
    /// The version being applied; also names conflicts (`NAME.peerdist-conflict-<version>`).
    public let version: UInt64
    /// Where staged chunks are announced, so this node can serve them before the commit.
    public let index: LocalChunkIndex

    private let root: DirectoryHandle
    private let staging: DirectoryHandle
    private let applied: AppliedTree
    private let target: [MirrorEntry]
    private let plan: UpdatePlan
    private let state: PThreadMutex<State>

    private struct State: ~Copyable {
        enum Phase { case prepared, committed, abandoned, journaled }
        var phase = Phase.prepared
        var missing: [HashValue: Wanted]
        var heldBytes: UInt64
        var writer: StagingWriter
    }

    /// A missing chunk's length and the places in staged files it goes (its hash is the key it
    /// is found under). A large tree has hundreds of thousands of these, and most chunks go to
    /// one place: the first is held inline, so such a chunk costs no allocation of its own.
    struct Wanted {
        var length: UInt32
        var first: StagedDestination
        var more: [StagedDestination] = []

        var destinations: StagedDestinations { StagedDestinations(first: first, more: more) }
    }

    /// A `Wanted`'s places, first one first, without gathering them into an array.
    struct StagedDestinations: RandomAccessCollection {
        let first: StagedDestination
        let more: [StagedDestination]

        var startIndex: Int { 0 }
        var endIndex: Int { more.count + 1 }
        subscript(position: Int) -> StagedDestination { position == 0 ? first : more[position - 1] }
    }

    /// A place in a staged file: `offset` in `plan.stagedFiles[file]`.
    struct StagedDestination {
        var file: Int
        var offset: UInt64
    }

    private init(
        directory: String, version: UInt64, index: LocalChunkIndex, root: DirectoryHandle, staging: DirectoryHandle,
        applied: AppliedTree, target: [MirrorEntry], plan: UpdatePlan, missing: [HashValue: Wanted], heldBytes: UInt64,
        writer: consuming StagingWriter
    ) {
        self.directory = directory
        self.version = version
        self.index = index
        self.root = root
        self.staging = staging
        self.applied = applied
        self.target = target
        self.plan = plan
        state = PThreadMutex(State(missing: missing, heldBytes: heldBytes, writer: writer))
    }

    // MARK: Prepare

    /// Builds the staging directory for turning `directory` from `applied` into `entries`
    /// (sorted by path, parents listed as directories, as a validated manifest has them).
    ///
    /// - Parameter index: the chunks this node holds, which staged chunks are added to; by default
    ///   an index of `applied`'s files.
    public static func prepare(
        directory: String, from applied: AppliedTree, to entries: [MirrorEntry], version: UInt64, index: LocalChunkIndex? = nil
    ) throws(MirrorError) -> MirrorUpdate {
        let root = try DirectoryHandle.open(root: directory)
        if let journal = try? MirrorJournal.read(in: root) {
            throw MirrorError(.invalidState, "\(directory): the commit of version \(journal.version) was interrupted; MirrorUpdate.recover(directory:) finishes it first")
        }
        if try root.status(MirrorNames.journal) != nil {
            throw MirrorError(.invalidState, "\(directory): an unreadable journal is in the way (\(MirrorNames.journal))")
        }
        let plan = try UpdatePlan(applied: applied, target: entries, walker: TreeWalker(root: root, onlyLooking: true))
        let chunks: LocalChunkIndex
        if let index {
            chunks = index
        } else {
            chunks = try LocalChunkIndex(root: directory, entries: applied.entries)
        }

        // Leftovers of an update that was dropped or died before its commit.
        try root.removeTree(MirrorNames.staging)
        do throws(MirrorError) {
            try root.makeDirectory(MirrorNames.staging, mode: 0o700)
            guard let staging = try root.openDirectory(MirrorNames.staging) else {
                throw MirrorError(.io, "\(root.display(MirrorNames.staging)): not a directory after making it one")
            }
            try staging.ensureSpace(for: plan.stagedFiles.reduce(0) { $0 + $1.entry.size })
            var writer = StagingWriter(staging: staging, files: plan.stagedFiles)
            let (missing, heldBytes) = try fill(plan, root: root, staging: staging, applied: applied, writer: &writer, index: chunks)
            return MirrorUpdate(
                directory: directory, version: version, index: chunks, root: root, staging: staging,
                applied: applied, target: entries, plan: plan, missing: missing, heldBytes: heldBytes, writer: writer)
        } catch {
            try? root.removeTree(MirrorNames.staging)
            throw error
        }
    }

    /// Makes the staged links, and fills every chunk this node holds into the staged files:
    /// copied from the applied version's unchanged files where they have it, else read and checked
    /// from wherever the index finds it. Returns the rest.
    private static func fill(
        _ plan: UpdatePlan, root: DirectoryHandle, staging: DirectoryHandle, applied: AppliedTree, writer: inout StagingWriter, index: LocalChunkIndex
    ) throws(MirrorError) -> (missing: [HashValue: Wanted], heldBytes: UInt64) {
        // Sized up front: a first mirror of a large tree has hundreds of thousands of chunks.
        let chunkCount = plan.stagedFiles.reduce(0) { $0 + $1.entry.chunks.count }
        var wanted: [HashValue: Wanted] = [:]
        wanted.reserveCapacity(chunkCount)
        var order: [HashValue] = []
        order.reserveCapacity(chunkCount)
        var heldBytes: UInt64 = 0
        /// Chunks placed whose bytes are counted in `heldBytes` (a chunk counts once).
        var counted: Set<HashValue> = []
        var copier = UnchangedFileCopier(root: root, stamps: applied.stamps, index: index)
        defer { copier.close() }
        for (file, staged) in plan.stagedFiles.enumerated() {
            // A file none of whose chunks are here is made when its first one arrives.
            var placed = [Bool](repeating: false, count: staged.entry.chunks.count)
            if staged.entry.chunks.isEmpty || staged.entry.chunks.contains(where: { index.contains($0.hash) }) {
                placed = try copier.fill(try writer.file(file), with: staged.entry.chunks)
                try writer.placed(file, count: placed.count { $0 })
            }
            var offset: UInt64 = 0
            for (position, chunk) in staged.entry.chunks.enumerated() {
                let destination = StagedDestination(file: file, offset: offset)
                offset += UInt64(chunk.length)
                if placed[position] {
                    index.add(CollectionOfOne(destination), of: chunk, in: plan)
                    if counted.insert(chunk.hash).inserted { heldBytes += UInt64(chunk.length) }
                    continue
                }
                if wanted[chunk.hash] == nil {
                    wanted[chunk.hash] = Wanted(length: chunk.length, first: destination)
                    order.append(chunk.hash)
                } else {
                    wanted[chunk.hash]?.more.append(destination)
                }
            }
        }
        for link in plan.stagedLinks {
            guard case .symlink(let target) = link.entry.kind else { continue }
            try staging.makeSymlink(link.name, target: target)
            try staging.setModified(link.name, to: link.entry.modified)
        }

        // The rest of what this node holds: a changed file's chunks, copies placed above.
        for hash in order {
            guard let chunk = wanted[hash], let bytes = index.read(ChunkReference(hash: hash, length: chunk.length)) else { continue }
            try writer.write(bytes, to: chunk.destinations)
            index.add(chunk.destinations, of: ChunkReference(hash: hash, length: chunk.length), in: plan)
            wanted[hash] = nil
            // A chunk both placed in one file and missing from another was counted above.
            if !counted.contains(hash) { heldBytes += UInt64(chunk.length) }
        }
        // And one placed in a file but still missing from another is not held yet.
        for (hash, chunk) in wanted where counted.contains(hash) { heldBytes -= UInt64(chunk.length) }
        return (wanted, heldBytes)
    }

    // MARK: Fetching

    /// The chunks still missing, in no particular order.
    public var missing: [MissingChunk] {
        state.withLock { state in
            state.missing.map { hash, wanted in
                MissingChunk(
                    chunk: ChunkReference(hash: hash, length: wanted.length),
                    destinations: wanted.destinations.map { Destination(path: plan.stagedFiles[$0.file].entry.path, offset: $0.offset) })
            }
        }
    }

    public var progress: Progress {
        state.withLock { state in
            Progress(
                missingChunks: state.missing.count,
                missingBytes: state.missing.values.reduce(0) { $0 + UInt64($1.length) },
                heldBytes: state.heldBytes)
        }
    }

    /// Writes a fetched chunk, whose hash the caller has checked, wherever it is missing; false
    /// when it is not (any more). A failure abandons the update (the tree stays as it was).
    @discardableResult
    public func store(_ bytes: [UInt8], for chunk: ChunkReference) throws(MirrorError) -> Bool {
        var result: Result<Bool, MirrorError> = .success(false)
        bytes.withUnsafeBytes { raw in result = Result { () throws(MirrorError) in try store(raw, for: chunk) } }
        return try result.get()
    }

    /// `store` from bytes in place (a received message's), without a copy of their own.
    @discardableResult
    public func store(_ bytes: UnsafeRawBufferPointer, for chunk: ChunkReference) throws(MirrorError) -> Bool {
        try state.withLock { (state) throws(MirrorError) -> Bool in
            guard state.phase == .prepared else { throw phaseError(state.phase) }
            guard let wanted = state.missing[chunk.hash] else { return false }
            guard bytes.count == Int(wanted.length) else {
                throw MirrorError(.invalidArgument, "\(directory): \(bytes.count) bytes stored for chunk \(chunk.hash) of \(wanted.length) bytes")
            }
            do throws(MirrorError) {
                try state.writer.write(bytes, to: wanted.destinations)
            } catch {
                discardStaging(&state)
                throw error
            }
            state.missing[chunk.hash] = nil
            state.heldBytes += UInt64(wanted.length)
            index.add(wanted.destinations, of: ChunkReference(hash: chunk.hash, length: wanted.length), in: plan)
            return true
        }
    }

    // MARK: Commit

    /// Places the new version; returns it with the stamps its paths have now, and the local
    /// changes that were moved aside. Throws `.incomplete` while chunks are missing.
    ///
    /// `record` is handed the new version once every path is in place and before the journal
    /// goes, so the caller can record it: killed before that, the journal is still there and
    /// `recover` finishes the version; after, the record already names it.
    public func commit(recording record: (AppliedTree) throws -> Void = { _ in }) throws(MirrorError) -> MirrorCommit {
        try commit(stoppingAfter: nil, recording: record)
    }

    /// `commit`, optionally stopping after `limit` journal operations as if the process died
    /// there (for tests of recovery).
    func commit(stoppingAfter limit: Int?, recording record: (AppliedTree) throws -> Void = { _ in }) throws(MirrorError) -> MirrorCommit {
        try state.withLock { (state) throws(MirrorError) -> MirrorCommit in
            guard state.phase == .prepared else { throw phaseError(state.phase) }
            guard state.missing.isEmpty else {
                let bytes = state.missing.values.reduce(0) { $0 + UInt64($1.length) }
                throw MirrorError(.incomplete, "\(directory): \(state.missing.count) chunks (\(bytes) bytes) still missing")
            }
            state.writer.close()
            do throws(MirrorError) {
                guard state.writer.incompleteFiles == 0 else {
                    throw MirrorError(.invalidState, "\(directory): \(state.writer.incompleteFiles) staged files are incomplete with no chunk missing")
                }
                // Each staged file got its mode and time when its last chunk was written; one
                // flush of the file system makes them all durable before the journal names them
                // (a flush per file costs a journal commit each on most file systems).
                try staging.syncFileSystem()
                staging.sync()
                try MirrorJournal(version: version, operations: plan.operations).write(in: root)
            } catch {
                discardStaging(&state)
                throw error
            }
            // From here on the journal is the truth: a failure leaves it for `recover`.
            state.phase = .journaled
            let runner = JournalRunner(root: root, staging: staging, version: version, isRecovery: false)
            try runner.run(plan.operations, stoppingAfter: limit)
            let applied = AppliedTree(version: version, entries: target, stamps: try currentStamps())
            do {
                try record(applied)
            } catch {
                throw MirrorError(.io, "\(directory): version \(version) is in place but could not be recorded: \(error)")
            }
            try Self.finish(runner, root: root)
            state.phase = .committed
            index.replace(with: target)
            return MirrorCommit(applied: applied, movedAside: runner.movedAside)
        }
    }

    /// How many operations the commit's journal holds.
    var operationCount: Int { plan.operations.count }

    /// Removes the staging directory; the tree stays on the applied version. Does nothing once a
    /// commit has written its journal.
    public func abandon() {
        state.withLock { state in
            if state.phase == .prepared { discardStaging(&state) }
        }
    }

    /// The new version's stamps: fresh ones for what the commit made, the applied ones for files
    /// it left alone.
    private func currentStamps() throws(MirrorError) -> [String: PathStamp] {
        let walker = TreeWalker(root: root, onlyLooking: true)
        var stamps: [String: PathStamp] = [:]
        for entry in target {
            if case .file = entry.kind, plan.untouched.contains(entry.path), let stamp = applied.stamps[entry.path] {
                stamps[entry.path] = stamp
            } else if let status = try walker.status(entry.path) {
                stamps[entry.path] = status.stamp
            }
        }
        return stamps
    }

    private func discardStaging(_ state: inout State) {
        state.writer.close()
        // Staged files the index kept open would hold on to their space (a full disk).
        index.closeKeptFiles()
        try? root.removeTree(MirrorNames.staging)
        root.sync()
        state.phase = .abandoned
    }

    private func phaseError(_ phase: State.Phase) -> MirrorError {
        switch phase {
        case .prepared: MirrorError(.invalidState, "\(directory): the update to version \(version) is still being prepared")
        case .committed: MirrorError(.invalidState, "\(directory): the update to version \(version) is already committed")
        case .abandoned: MirrorError(.invalidState, "\(directory): the update to version \(version) was abandoned")
        case .journaled: MirrorError(.invalidState, "\(directory): the commit of version \(version) was interrupted; MirrorUpdate.recover(directory:) finishes it")
        }
    }

    /// Flushes what the operations changed, then drops the journal and the staging directory.
    private static func finish(_ runner: JournalRunner, root: DirectoryHandle) throws(MirrorError) {
        try runner.syncTouchedDirectories()
        try MirrorJournal.remove(in: root)
        // The tree is on the new version now; a staging directory that resists removal holds
        // nothing needed, and the next `prepare` or `recover` removes it.
        try? root.removeTree(MirrorNames.staging)
        root.sync()
    }

    // MARK: Recovery

    /// Brings `directory` back to one version after a crash: finishes a commit whose journal is
    /// there (every staged file was complete when it was written), or removes a staging directory
    /// without a journal (the tree is still on the applied version). Call it before `prepare`.
    ///
    /// After `.rolledForward`, stamp the new version with `AppliedTree(stamping:version:in:)`.
    public static func recover(directory: String) throws(MirrorError) -> MirrorRecovery {
        let root = try DirectoryHandle.open(root: directory)
        try root.removeFile(MirrorNames.journalTemporary)
        if let journal = try MirrorJournal.read(in: root) {
            let runner = JournalRunner(root: root, staging: try root.openDirectory(MirrorNames.staging), version: journal.version, isRecovery: true)
            try runner.run(journal.operations)
            try finish(runner, root: root)
            return .rolledForward(version: journal.version, movedAside: runner.movedAside)
        }
        guard try root.status(MirrorNames.staging) != nil else { return .nothingPending }
        try root.removeTree(MirrorNames.staging)
        root.sync()
        return .discardedStaging
    }
}

/// A version as a follower applied it: the manifest's entries, and the stamp each path had on
/// disk just after, against which later local changes are recognised.
public struct AppliedTree: Sendable, Equatable {
    public var version: UInt64
    public var entries: [MirrorEntry]
    public var stamps: [String: PathStamp]

    public init(version: UInt64, entries: [MirrorEntry], stamps: [String: PathStamp]) {
        self.version = version
        self.entries = entries
        self.stamps = stamps
    }

    /// Nothing applied yet: every path found on disk is local.
    public static let empty = AppliedTree(version: 0, entries: [], stamps: [:])

    /// `entries` with the stamps their paths have in `directory` now, for a version a recovery
    /// finished. Paths that are absent get no stamp.
    public init(stamping entries: [MirrorEntry], version: UInt64, in directory: String) throws(MirrorError) {
        let walker = TreeWalker(root: try DirectoryHandle.open(root: directory), onlyLooking: true)
        var stamps: [String: PathStamp] = [:]
        for entry in entries {
            if let status = try walker.status(entry.path) { stamps[entry.path] = status.stamp }
        }
        self.init(version: version, entries: entries, stamps: stamps)
    }
}

/// What `MirrorUpdate.commit` did.
public struct MirrorCommit: Sendable, Equatable {
    /// The new version with its stamps; keep it to prepare the next update.
    public var applied: AppliedTree
    /// Local changes that were in the way, and where they are now.
    public var movedAside: [MovedAside]
}

/// What `MirrorUpdate.recover` found.
public enum MirrorRecovery: Sendable, Equatable {
    /// No interrupted update.
    case nothingPending
    /// An update died before its commit; its staging directory is gone and the tree is unchanged.
    case discardedStaging
    /// A commit was interrupted and is now finished: the tree is on `version`.
    case rolledForward(version: UInt64, movedAside: [MovedAside])
}

/// Writes chunks into staged files, keeping the last file open (chunks come mostly in file
/// order), and gives each file its mode and modification time once its last chunk is in. Files
/// are numbered as in the plan's `stagedFiles`.
struct StagingWriter: ~Copyable {
    private let staging: DirectoryHandle
    private let files: [UpdatePlan.StagedFile]
    /// Chunk places still to be written, by file; 0 once a file is complete.
    private var remaining: [Int]
    /// Files with places still to be written.
    private(set) var incompleteFiles: Int
    private var current: (number: Int, file: OpenFile)?

    init(staging: DirectoryHandle, files: [UpdatePlan.StagedFile]) {
        self.staging = staging
        self.files = files
        remaining = files.map(\.entry.chunks.count)
        // A file without chunks is complete once `placed` has made it.
        incompleteFiles = files.count
    }

    /// The staged file numbered `number`, made (mode 0600, in the 0700 staging directory) if it is not yet.
    mutating func file(_ number: Int) throws(MirrorError) -> OpenFile {
        if let current, current.number == number { return current.file }
        let file = try staging.openFile(files[number].name, flags: O_RDWR | O_CREAT, mode: 0o600)
        current = (number, file)
        return file
    }

    mutating func write(_ bytes: [UInt8], to destinations: some Collection<MirrorUpdate.StagedDestination>) throws(MirrorError) {
        var result: Result<Void, MirrorError> = .success(())
        bytes.withUnsafeBytes { raw in result = Result { () throws(MirrorError) in try write(raw, to: destinations) } }
        try result.get()
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer, to destinations: some Collection<MirrorUpdate.StagedDestination>) throws(MirrorError) {
        for destination in destinations {
            do throws(MirrorError) {
                try file(destination.file).write(bytes, at: destination.offset)
            } catch where error.code == .noSpace {
                throw MirrorError(.noSpace, "\(staging.path): no space left on device for \(files[destination.file].entry.path)", errno: error.errno)
            }
            try placed(destination.file, count: 1)
        }
    }

    /// Counts `count` chunks of the staged file `number` as written (a file without chunks is
    /// complete at once); the last one sets the file's mode and modification time.
    mutating func placed(_ number: Int, count: Int) throws(MirrorError) {
        guard remaining[number] >= 0 else { return }
        remaining[number] -= count
        guard remaining[number] <= 0 else { return }
        // -1: done, so that later counts (none are expected) change nothing.
        remaining[number] = -1
        incompleteFiles -= 1
        let entry = files[number].entry
        try file(number).setAttributes(mode: entry.mode, modified: entry.modified)
    }

    mutating func close() {
        current = nil
    }
}

extension LocalChunkIndex {
    /// Announces a chunk just written into staged files.
    func add(_ destinations: some Collection<MirrorUpdate.StagedDestination>, of chunk: ChunkReference, in plan: UpdatePlan) {
        for destination in destinations {
            add(chunk.hash, at: Location(path: plan.stagedFiles[destination.file].stagingPath, offset: destination.offset, length: chunk.length))
        }
    }
}
