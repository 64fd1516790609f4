import CSystemCalls
import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Fills a staged file from the files of the applied version that are still exactly as this node
/// recorded them, without passing their bytes through the process or hashing them again.
///
/// The trust rests on the path's stamp, as conflict detection does: the kernel sets a file's
/// change time on every write and nothing can set it back, so a file whose stamp (size,
/// modification and change times, inode) is the one recorded when this node wrote and checked it
/// still holds those bytes. The stamp is compared when the file is opened and again after each
/// copy, so a file written to meanwhile contributes nothing.
///
/// Adjacent chunks of one source file become one run, copied with `copy_file_range`: it stays in
/// the kernel, and on file systems that share extents (XFS, Btrfs) it clones instead of copying.
/// Where the kernel cannot, the run is copied through a buffer.
struct UnchangedFileCopier {
    private let root: DirectoryHandle
    /// The applied version's stamps, by path.
    private let stamps: [String: PathStamp]
    private let index: LocalChunkIndex
    /// Source files open and found unchanged.
    private let open = OpenFileCache(capacity: 64)
    /// Paths found changed, gone or unreadable: not looked at again in this update.
    private var refused: Set<String> = []
    private var buffer: [UInt8] = []
    private var kernelCopies = true

    private static let bufferSize = 1 << 20

    init(root: DirectoryHandle, stamps: [String: PathStamp], index: LocalChunkIndex) {
        self.root = root
        self.stamps = stamps
        self.index = index
    }

    /// A stretch of a source file that goes, byte for byte, to a stretch of the staged file.
    private struct Run {
        var path: String
        var source: UInt64
        var destination: UInt64
        var length: UInt64
        /// Positions in the staged file's chunk list that the run covers.
        var chunks: Range<Int>
    }

    /// Copies every chunk of `chunks` (the staged file's content, laid out from its start) that
    /// an unchanged file holds; returns which positions of `chunks` are now in place.
    ///
    /// A failure to write the staged file (a full disk) is thrown; anything wrong with a source
    /// only leaves its chunks out.
    mutating func fill(_ file: OpenFile, with chunks: [ChunkReference]) throws(MirrorError) -> [Bool] {
        var placed = [Bool](repeating: false, count: chunks.count)
        var run: Run?
        var offset: UInt64 = 0
        for (position, chunk) in chunks.enumerated() {
            defer { offset += UInt64(chunk.length) }
            let locations = index.locations(of: chunk.hash).filter { $0.length == chunk.length }
            if var current = run, locations.contains(where: { $0.path == current.path && $0.offset == current.source + current.length }) {
                current.length += UInt64(chunk.length)
                current.chunks = current.chunks.lowerBound..<position + 1
                run = current
                continue
            }
            if let finished = run.take() { try copy(finished, into: file, marking: &placed) }
            guard let location = locations.first(where: { unchangedFile($0.path) != nil }) else { continue }
            run = Run(path: location.path, source: location.offset, destination: offset, length: UInt64(chunk.length), chunks: position..<position + 1)
        }
        if let finished = run.take() { try copy(finished, into: file, marking: &placed) }
        return placed
    }

    /// Closes the source files.
    func close() {
        open.removeAll()
    }

    /// `path` opened, when it is a file of the applied version still as recorded.
    private mutating func unchangedFile(_ path: String) -> OpenFile? {
        if let file = open.file(at: path) { return file }
        guard !refused.contains(path), let recorded = stamps[path], recorded.kind == .file else { return nil }
        guard let file = try? root.openFile(relativePath: path, flags: O_RDONLY | O_NONBLOCK), let status = try? file.status(), status.stamp == recorded else {
            refuse(path)
            return nil
        }
        open.keep(file, at: path)
        return file
    }

    private mutating func copy(_ run: Run, into file: OpenFile, marking placed: inout [Bool]) throws(MirrorError) {
        guard let source = unchangedFile(run.path) else { return }
        // A source that ends early, fails, or was written to while it was copied (what arrived
        // may be the new bytes) contributes nothing.
        guard try copyBytes(run, from: source, into: file), let status = try? source.status(), status.stamp == stamps[run.path] else {
            refuse(run.path)
            return
        }
        for position in run.chunks { placed[position] = true }
    }

    private mutating func refuse(_ path: String) {
        refused.insert(path)
        open.evict(path)
    }

    /// Copies the run; false when the source ended early or could not be read.
    private mutating func copyBytes(_ run: Run, from source: OpenFile, into file: OpenFile) throws(MirrorError) -> Bool {
        var done: UInt64 = 0
        while kernelCopies, done < run.length {
            var input = Int64(run.source + done)
            var output = Int64(run.destination + done)
            let copied = peerdist_copy_file_range(source.descriptor, &input, file.descriptor, &output, Int(run.length - done))
            if copied > 0 {
                done += UInt64(copied)
                continue
            }
            if copied == 0 { return false }
            switch errno {
            case EINTR: continue
            case ENOSPC, EDQUOT: throw .system("cannot write", path: file.path, errno: errno)
            // Not between these files here (an old kernel, another file system, a special one,
            // a seccomp filter): copy through the buffer from here on.
            case EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF, EPERM: kernelCopies = false
            default: return false
            }
        }
        if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: Self.bufferSize) }
        while done < run.length {
            let count = Int(min(UInt64(buffer.count), run.length - done))
            let read: Int
            do throws(MirrorError) {
                read = try Self.read(count, from: source, at: run.source + done, into: &buffer)
            } catch {
                return false
            }
            guard read == count else { return false }
            try Self.write(count, from: buffer, to: file, at: run.destination + done)
            done += UInt64(count)
        }
        return true
    }

    private static func read(_ count: Int, from file: OpenFile, at offset: UInt64, into buffer: inout [UInt8]) throws(MirrorError) -> Int {
        var result: Result<Int, MirrorError> = .success(0)
        buffer.withUnsafeMutableBytes { raw in
            result = Result { () throws(MirrorError) in try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<count]), at: offset) }
        }
        return try result.get()
    }

    private static func write(_ count: Int, from buffer: [UInt8], to file: OpenFile, at offset: UInt64) throws(MirrorError) {
        var result: Result<Void, MirrorError> = .success(())
        buffer.withUnsafeBytes { raw in
            result = Result { () throws(MirrorError) in try file.write(UnsafeRawBufferPointer(rebasing: raw[..<count]), at: offset) }
        }
        try result.get()
    }
}
