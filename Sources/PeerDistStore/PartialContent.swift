import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// The state of one content being downloaded into the cache, shared by every `Download` of it and
/// by the store, which serves its held blocks: the `.partial` data file and the bitmap of blocks
/// that were verified and written.
///
/// The bitmap file is never ahead of the data: a flush takes the bitmap, syncs the data file, and
/// only then writes that bitmap (atomically). After a crash every block the bitmap file claims is
/// on disk; blocks written since the last flush are fetched again.
final class PartialContent: Sendable {
    let layout: ContentLayout
    let partialPath: String
    let dataPath: String
    let bitmapPath: String
    /// Unflushed bytes after which a write flushes by itself.
    private let flushInterval: UInt64
    /// A pthread mutex rather than `Mutex`: a download's writers contend for it all the time, and
    /// ThreadSanitizer does not see `Mutex` hand over a contended lock (see `PThreadMutex`).
    private let state: PThreadMutex<State>
    /// Held around each block's write. Writes to one file take the kernel's inode lock, whose
    /// waiters spin while the holder runs; on a machine where a write is slow (fresh pages of a
    /// virtual machine) that spinning cost more CPU than the writes. Waiting here sleeps instead:
    /// a pthread mutex sleeps at once, where `Mutex` spins first (1.4 % of all the CPU of a
    /// seven-leecher swarm, in `Mutex`'s slow path under this write).
    private let writeTurn = PThreadMutex(())

    private enum Phase {
        case downloading(StoreFile)
        /// Renamed to `dataPath`; every block is held and nothing more is written. The file stays
        /// open (when there is one) so reads racing the rename still find their block.
        case finished(StoreFile?)
        /// The entry left the store; its files are gone or going.
        case removed
    }

    private struct State {
        var phase: Phase
        var held: BlockBitmap
        var heldBytes: UInt64
        var unflushedBytes: UInt64 = 0
        var bitmapIsCurrent = true
        /// Blocks being written right now, outside the lock; a second copy of one is not written.
        var writing: Set<Int> = []
    }

    /// Opens the download of `layout` in `directory`, resuming from the bitmap file when there is
    /// one and `resume` is set; otherwise any leftover files are discarded and it starts empty.
    init(layout: ContentLayout, directory: String, flushInterval: UInt64, resume: Bool) throws(StoreError) {
        self.layout = layout
        self.partialPath = "\(directory)/\(layout.id.hex).partial"
        self.dataPath = "\(directory)/\(layout.id.hex).data"
        self.bitmapPath = "\(directory)/\(layout.id.hex).bitmap"
        self.flushInterval = flushInterval
        var held = BlockBitmap(count: layout.blockCount)
        // A bitmap without its data file claims blocks that are not there.
        if resume, try FileStatus.of(partialPath) != nil, let stored = try Self.readBitmap(at: bitmapPath, layout: layout) {
            held = stored
        } else {
            try StorePaths.remove(bitmapPath)
        }
        let file = try StoreFile.open(partialPath, flags: O_RDWR | O_CREAT)
        if held.heldCount == 0 { try file.truncate(to: 0) }
        // Sparse: blocks take space only when written.
        if try file.status().size != layout.length { try file.truncate(to: layout.length) }
        var heldBytes: UInt64 = 0
        for number in 0..<layout.blockCount where held.contains(number) { heldBytes += layout.byteRange(ofBlock: number).count64 }
        state = PThreadMutex(State(phase: .downloading(file), held: held, heldBytes: heldBytes))
    }

    /// A download of content the cache already holds whole.
    init(finished layout: ContentLayout, directory: String) {
        self.layout = layout
        self.partialPath = "\(directory)/\(layout.id.hex).partial"
        self.dataPath = "\(directory)/\(layout.id.hex).data"
        self.bitmapPath = "\(directory)/\(layout.id.hex).bitmap"
        self.flushInterval = .max
        var held = BlockBitmap(count: layout.blockCount)
        for number in 0..<layout.blockCount { held.insert(number) }
        state = PThreadMutex(State(phase: .finished(nil), held: held, heldBytes: layout.length))
    }

    /// The bitmap stored at `path`, or nil when there is none or it is damaged (then nothing is held).
    static func readBitmap(at path: String, layout: ContentLayout) throws(StoreError) -> BlockBitmap? {
        guard try FileStatus.of(path) != nil else { return nil }
        let file = try StoreFile.open(path, flags: O_RDONLY)
        let bytes = try file.read(count: Int(try file.status().size), at: 0)
        return BlockBitmap(decoding: bytes, for: layout.id, count: layout.blockCount)
    }

    var heldBytes: UInt64 { state.withLock { $0.heldBytes } }
    var isComplete: Bool { state.withLock { $0.held.isComplete } }
    var isFinished: Bool { state.withLock { if case .finished = $0.phase { true } else { false } } }

    /// The held blocks as bits (see `BlockBitmap.bitBytes`).
    var heldBits: [UInt8] { state.withLock { $0.held.bitBytes } }

    func isHeld(_ number: Int) -> Bool {
        state.withLock { $0.held.contains(number) }
    }

    /// The held blocks of segment `segment`, by index within the segment.
    func heldBlocks(ofSegment segment: Int) -> [Bool] {
        let numbers = layout.blockNumbers(ofSegment: segment)
        return state.withLock { state in numbers.map { state.held.contains($0) } }
    }

    /// Verifies `bytes` against the block's hash and writes them. A block already held is not
    /// written again; bytes that fail verification are never written.
    func write(segment: Int, block: Int, bytes: [UInt8]) throws(StoreError) {
        var result: Result<Void, StoreError> = .success(())
        bytes.withUnsafeBytes { raw in result = Result { () throws(StoreError) in try write(segment: segment, block: block, bytes: raw) } }
        try result.get()
    }

    func write(segment: Int, block: Int, bytes: UnsafeRawBufferPointer) throws(StoreError) {
        guard let number = layout.blockNumber(segment: segment, block: block) else {
            throw StoreError(.invalidArgument, "\(layout.id.shortName) has no block \(block) in segment \(segment) (\(layout.segments.count) segments)")
        }
        // Hashing happens outside the lock, so writers of different blocks hash in parallel.
        guard layout.verify(bytes, segment: segment, block: block) else {
            let expected = layout.byteRange(ofBlock: number).count64
            let what = UInt64(bytes.count) == expected ? "does not match its hash" : "is \(bytes.count) bytes, not \(expected)"
            throw StoreError(.corruptBlock, "\(layout.id.shortName) segment \(segment) block \(block): the block offered \(what); not written")
        }
        // The write itself happens outside the state lock, so readers serving other blocks do not
        // wait for it (writers take turns on `writeTurn`; the file stays open while it is
        // referenced); the block counts as held only once its bytes are written, so a flush never
        // records it early.
        let file = try state.withLock { (state) throws(StoreError) -> StoreFile? in
            guard !state.held.contains(number), !state.writing.contains(number) else { return nil }
            guard case .downloading(let file) = state.phase else {
                throw StoreError(.notFound, "\(layout.id.shortName): the download was removed from the store")
            }
            state.writing.insert(number)
            return file
        }
        guard let file else { return }
        do throws(StoreError) {
            try writeTurn.withLock { _ throws(StoreError) in
                let failure = file.write(bytes, at: layout.byteRange(ofBlock: number).lowerBound)
                guard failure == 0 else { throw .system("cannot write", path: file.path, errno: failure) }
            }
        } catch {
            state.withLock { _ = $0.writing.remove(number) }
            throw error
        }
        try state.withLock { (state) throws(StoreError) in
            state.writing.remove(number)
            guard case .downloading = state.phase else { return }
            state.held.insert(number)
            state.heldBytes += UInt64(bytes.count)
            state.unflushedBytes += UInt64(bytes.count)
            state.bitmapIsCurrent = false
            if state.unflushedBytes >= flushInterval { try flush(&state) }
        }
    }

    /// The bytes of a held block, unverified (the caller verifies), or nil when it is not held.
    func read(_ number: Int) throws(StoreError) -> [UInt8]? {
        guard let file = heldFile(number) else { return nil }
        // Outside the lock: a held block's bytes no longer change.
        let range = layout.byteRange(ofBlock: number)
        return try file.read(count: Int(range.count64), at: range.lowerBound)
    }

    /// Reads a held block into `buffer`, exactly its size; false when it is not held or its file
    /// is shorter.
    func read(_ number: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Bool {
        guard let file = heldFile(number) else { return false }
        return try file.read(into: buffer, at: layout.byteRange(ofBlock: number).lowerBound) == buffer.count
    }

    private func heldFile(_ number: Int) -> StoreFile? {
        state.withLock { state in
            guard state.held.contains(number) else { return nil }
            switch state.phase {
            case .downloading(let file): return file
            case .finished(let file): return file
            case .removed: return nil
            }
        }
    }

    /// Forgets a held block whose bytes on disk failed verification, so it is fetched again.
    func discard(_ number: Int) {
        state.withLock { state in
            guard state.held.contains(number), case .downloading = state.phase else { return }
            state.held.remove(number)
            state.heldBytes -= layout.byteRange(ofBlock: number).count64
            state.bitmapIsCurrent = false
        }
    }

    /// Makes every block written so far durable and records them in the bitmap file.
    func flush() throws(StoreError) {
        try state.withLock { (state) throws(StoreError) in try flush(&state) }
    }

    private func flush(_ state: inout State) throws(StoreError) {
        guard case .downloading(let file) = state.phase, !state.bitmapIsCurrent else { return }
        // The bitmap is taken before the sync: every block in it was written before the sync began.
        let snapshot = state.held
        try file.syncData()
        do throws(AtomicFile.WriteError) {
            try AtomicFile.write(snapshot.encoded(for: layout.id), to: bitmapPath, replacing: true)
        } catch {
            throw .atomicWrite(error)
        }
        state.unflushedBytes = 0
        state.bitmapIsCurrent = true
    }

    /// Flushes and renames the finished data file to `dataPath`; throws `.incomplete` while blocks are missing.
    func finish() throws(StoreError) {
        try state.withLock { (state) throws(StoreError) in
            switch state.phase {
            case .finished:
                return
            case .removed:
                throw StoreError(.notFound, "\(layout.id.shortName): the download was removed from the store")
            case .downloading(let file):
                guard state.held.isComplete else {
                    let missing = state.held.count - state.held.heldCount
                    throw StoreError(.incomplete, "\(layout.id.shortName): \(missing) of \(state.held.count) blocks are still missing")
                }
                try flush(&state)
                try StorePaths.rename(partialPath, to: dataPath)
                AtomicFile.syncDirectory(of: dataPath)
                state.phase = .finished(file)
            }
        }
    }

    /// Stops the download: later writes fail and nothing more is served from it.
    func markRemoved() {
        state.withLock { $0.phase = .removed }
    }
}

extension Range<UInt64> {
    /// The length of the range, as the offsets are.
    var count64: UInt64 { upperBound - lowerBound }
}
