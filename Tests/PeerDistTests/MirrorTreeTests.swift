import Crypto
import Foundation
import PeerDistHashing
import Synchronization
import Testing
@testable import PeerDist
@testable import PeerDistMirror

/// Scanning a publisher's tree, reusing a previous scan, and reading verified chunks back.
@Suite struct MirrorTreeTests {
    @Test func scanListsFilesDirectoriesAndLinksAndSkipsTheRest() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let big = StoreTestContent.random(count: 300_000, seed: 1)
        try MirrorFiles.write(Array("hello".utf8), "a.txt", in: root)
        try MirrorFiles.write([], "empty-file", in: root)
        try MirrorFiles.makeDirectory("empty", in: root)
        try MirrorFiles.write(big, "sub/b.bin", in: root, mode: 0o755)
        try MirrorFiles.makeDirectory("sub/deep", in: root, mode: 0o750)
        try MirrorFiles.symlink("sub/link", to: "../a.txt", in: root)
        try MirrorFiles.symlink("abs", to: "/etc/passwd", in: root)
        try MirrorFiles.symlink("sub/climbs", to: "../../outside", in: root)
        #expect(mkfifo("\(root)/fifo", 0o644) == 0)
        try MirrorFiles.write([1], ".peerdist-staging/f0", in: root)
        try MirrorFiles.write([2], "sub/.peerdist-journal", in: root)
        try MirrorFiles.setModified("a.txt", in: root, to: FileTime(seconds: 1_600_000_000, nanoseconds: 123_456_789))

        let scan = try TreeScanner(root: root, threads: 2).scan()

        #expect(scan.entries.map(\.path) == ["a.txt", "empty", "empty-file", "sub", "sub/b.bin", "sub/deep", "sub/link"])
        let byPath = Dictionary(uniqueKeysWithValues: scan.entries.map { ($0.path, $0) })
        let hello = try #require(byPath["a.txt"])
        #expect(hello.kind == .file(chunks: [ChunkReference(hash: HashValue(SHA256.hash(data: Array("hello".utf8))), length: 5)]))
        #expect(hello.mode == 0o644)
        #expect(hello.modified == FileTime(seconds: 1_600_000_000, nanoseconds: 123_456_789))
        #expect(byPath["empty-file"]?.kind == .file(chunks: []))
        #expect(byPath["empty"]?.kind == .directory)
        #expect(byPath["sub/deep"]?.mode == 0o750)
        #expect(byPath["sub/link"]?.kind == .symlink(target: "../a.txt"))

        // The big file's chunks cover it in order, each named by the SHA-256 of its bytes.
        let file = try #require(byPath["sub/b.bin"])
        #expect(file.mode == 0o755)
        #expect(file.size == 300_000)
        #expect(file.chunks.count > 1)
        var offset = 0
        for chunk in file.chunks {
            let bytes = Array(big[offset..<offset + Int(chunk.length)])
            #expect(chunk.hash == HashValue(SHA256.hash(data: bytes)))
            offset += Int(chunk.length)
        }

        #expect(scan.skipped == [
            SkippedPath(path: "abs", reason: .symlinkLeavesTree),
            SkippedPath(path: "fifo", reason: .fifo),
            SkippedPath(path: "sub/climbs", reason: .symlinkLeavesTree),
        ])
        #expect(scan.statistics.filesHashed == 3)
        #expect(scan.statistics.filesReused == 0)
        #expect(scan.statistics.bytesHashed == 300_005)
    }

    @Test func rescanningAfterTouchingOneFileHashesOnlyThatFile() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        for index in 0..<20 {
            try MirrorFiles.write(StoreTestContent.random(count: 1_000 + index * 9_000, seed: UInt64(index)), "dir\(index % 3)/file\(index)", in: root)
        }
        // Stamps this close to a scan are not trusted by the next one (see `RacyStamp`).
        try StoreScratch.waitOutRacyWindow()

        let scanner = TreeScanner(root: root, threads: 2)
        let first = try scanner.scan()
        #expect(first.statistics.filesHashed == 20)
        #expect(first.cache.count == 20)

        let second = try scanner.scan(reusing: first.cache)
        #expect(second.statistics == TreeScan.Statistics(filesHashed: 0, filesReused: 20, bytesHashed: 0))
        #expect(second.entries == first.entries)

        let touched = FileTime(seconds: 1_700_000_000, nanoseconds: 5)
        try MirrorFiles.setModified("dir1/file7", in: root, to: touched)
        let third = try scanner.scan(reusing: second.cache)
        #expect(third.statistics.filesHashed == 1)
        #expect(third.statistics.filesReused == 19)
        var expected = first.entries
        if let index = expected.firstIndex(where: { $0.path == "dir1/file7" }) { expected[index].modified = touched }
        #expect(third.entries == expected)

        // The cache survives a trip through its encoding, and a damaged one is refused.
        let encoded = second.cache.encoded()
        #expect(try ScanCache(decoding: encoded) == second.cache)
        #expect(try scanner.scan(reusing: ScanCache(decoding: encoded)).statistics.filesReused >= 19)
        #expect(throws: MirrorError(.corrupt, "")) { try ScanCache(decoding: Array(encoded.dropLast())) }
        #expect(throws: MirrorError(.corrupt, "")) { try ScanCache(decoding: Array("PDSX".utf8) + encoded.dropFirst(4)) }
    }

    @Test func theChunkIndexHandsOutOnlyVerifiedBytes() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let bytes = StoreTestContent.random(count: 200_000, seed: 7)
        try MirrorFiles.write(bytes, "one.bin", in: root)
        try MirrorFiles.write(bytes, "d/two.bin", in: root)
        let scan = try TreeScanner(root: root).scan()
        let index = try LocalChunkIndex(root: root, entries: scan.entries)
        let chunk = try #require(scan.entries.first { $0.path == "one.bin" }?.chunks.first)
        #expect(index.locations(of: chunk.hash).map(\.path) == ["d/two.bin", "one.bin"])
        #expect(index.read(chunk) == Array(bytes.prefix(Int(chunk.length))))

        // One copy changes: the other still serves, and the stale place is forgotten.
        try MirrorFiles.write(StoreTestContent.random(count: 200_000, seed: 8), "d/two.bin", in: root)
        #expect(index.read(chunk) == Array(bytes.prefix(Int(chunk.length))))
        #expect(index.locations(of: chunk.hash).map(\.path) == ["one.bin"])

        // A location reached through a link is never read, even if the bytes behind it match.
        let outside = try scratch.directory("outside")
        try MirrorFiles.write(bytes, "two.bin", in: outside)
        try MirrorFiles.remove("d", in: root)
        try MirrorFiles.symlink("d", to: outside, in: root)
        index.add(chunk.hash, at: LocalChunkIndex.Location(path: "d/two.bin", offset: 0, length: chunk.length))
        // Nor through a link in the last place, nor up and out.
        try MirrorFiles.symlink("link.bin", to: "\(outside)/two.bin", in: root)
        index.add(chunk.hash, at: LocalChunkIndex.Location(path: "link.bin", offset: 0, length: chunk.length))
        index.add(chunk.hash, at: LocalChunkIndex.Location(path: "../outside/two.bin", offset: 0, length: chunk.length))
        try MirrorFiles.write(StoreTestContent.random(count: 200_000, seed: 9), "one.bin", in: root)
        #expect(index.read(chunk) == nil)
        #expect(!index.contains(chunk.hash))

        // Extra places count: a staged copy is served.
        try MirrorFiles.write(bytes, "staged.bin", in: root)
        index.add(chunk.hash, at: LocalChunkIndex.Location(path: "staged.bin", offset: 0, length: chunk.length))
        var buffer = [UInt8](repeating: 0, count: Int(chunk.length))
        #expect(buffer.withUnsafeMutableBytes { index.read(chunk, into: $0) })
        #expect(buffer == Array(bytes.prefix(Int(chunk.length))))
    }
}

extension StoreScratch {
    /// A scratch directory under /tmp for a mirror test.
    static func mirror() throws -> StoreScratch {
        try StoreScratch(prefix: "peerdist-mirror", under: "/tmp")
    }

    /// Lets files just written age past the window in which a scan would not cache them.
    static func waitOutRacyWindow() throws {
        Thread.sleep(forTimeInterval: Double(RacyStamp.window) / 1e9 + 0.05)
    }
}

/// Making and inspecting trees for mirror tests, by paths relative to a root.
enum MirrorFiles {
    static func write(_ bytes: [UInt8], _ path: String, in root: String, mode: mode_t = 0o644) throws {
        let full = "\(root)/\(path)"
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        #expect(chmod(full, mode) == 0)
    }

    static func write(_ text: String, _ path: String, in root: String, mode: mode_t = 0o644) throws {
        try write(Array(text.utf8), path, in: root, mode: mode)
    }

    static func read(_ path: String, in root: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(path)")))
    }

    static func makeDirectory(_ path: String, in root: String, mode: mode_t = 0o755) throws {
        try FileManager.default.createDirectory(atPath: "\(root)/\(path)", withIntermediateDirectories: true)
        #expect(chmod("\(root)/\(path)", mode) == 0)
    }

    static func symlink(_ path: String, to target: String, in root: String) throws {
        try FileManager.default.createSymbolicLink(atPath: "\(root)/\(path)", withDestinationPath: target)
    }

    static func remove(_ path: String, in root: String) throws {
        try FileManager.default.removeItem(atPath: "\(root)/\(path)")
    }

    static func setModified(_ path: String, in root: String, to time: FileTime) throws {
        var times = [timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds)),
                     timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))]
        #expect(utimensat(AT_FDCWD, "\(root)/\(path)", &times, AT_SYMLINK_NOFOLLOW) == 0)
    }

    static func names(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    static func isSymlink(_ path: String, in root: String) -> Bool {
        var status = stat()
        return lstat("\(root)/\(path)", &status) == 0 && (status.st_mode & S_IFMT) == S_IFLNK
    }
}

extension MirrorTreeTests {
    /// The index keeps files open between reads; a path that names another file since is read
    /// afresh, not through the file kept open.
    @Test func aFileRenamedOverOneKeptOpenIsReadAtItsPath() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let first = StoreTestContent.random(count: 50_000, seed: 50)
        let second = StoreTestContent.random(count: 50_000, seed: 51)
        try MirrorFiles.write(first, "a.bin", in: root)
        let chunk = { (bytes: [UInt8]) in ChunkReference(hash: HashValue(SHA256.hash(data: bytes)), length: UInt32(bytes.count)) }
        let index = try LocalChunkIndex(root: root)
        index.add(file: "a.bin", chunks: [chunk(first)])
        #expect(index.read(chunk(first)) == first)

        try MirrorFiles.write(second, "b.bin", in: root)
        #expect(rename("\(root)/b.bin", "\(root)/a.bin") == 0)
        index.add(file: "a.bin", chunks: [chunk(second)])
        #expect(index.read(chunk(second)) == second)
        // The first file is gone from the tree: its chunk is not found at the path any more.
        #expect(index.read(chunk(first)) == nil)
        #expect(!index.contains(chunk(first).hash))
    }

    /// A removed file kept open would keep its space (a discarded staging directory on a full
    /// disk): closing the kept files lets it go.
    @Test func closingKeptFilesReleasesRemovedOnes() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let bytes = StoreTestContent.random(count: 30_000, seed: 52)
        try MirrorFiles.write(bytes, "staged.bin", in: root)
        let chunk = ChunkReference(hash: HashValue(SHA256.hash(data: bytes)), length: UInt32(bytes.count))
        let index = try LocalChunkIndex(root: root)
        index.add(file: "staged.bin", chunks: [chunk])
        #expect(index.read(chunk) == bytes)
        try MirrorFiles.remove("staged.bin", in: root)

        func descriptorsOfRemovedFile() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count { descriptor in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)")) == "\(root)/staged.bin (deleted)"
            }
        }
        #expect(try descriptorsOfRemovedFile() == 1)
        index.closeKeptFiles()
        #expect(try descriptorsOfRemovedFile() == 0)
    }

    /// The oldest kept file is closed first, whatever was evicted in between; an evicted or
    /// closed file is not handed out again.
    @Test func openFileCacheClosesTheOldestFirst() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let names = (0..<8).map { "f\($0)" }
        for name in names { try MirrorFiles.write([1, 2, 3], name, in: root) }
        let directory = try DirectoryHandle.open(root: root)
        let cache = OpenFileCache(capacity: 3, budget: OpenFileCache.Budget(limit: 100))
        for name in names.prefix(3) { cache.keep(try directory.openFile(name, flags: O_RDONLY), at: name) }
        cache.evict("f1")
        for name in names[3..<7] { cache.keep(try directory.openFile(name, flags: O_RDONLY), at: name) }
        // Kept in order f0 f2 f3 f4 f5 f6 (f1 evicted), three at most: f4 f5 f6 remain.
        #expect(names.filter { cache.file(at: $0) != nil } == ["f4", "f5", "f6"])
        cache.keep(try directory.openFile("f7", flags: O_RDONLY), at: "f7")
        cache.keep(try directory.openFile("f5", flags: O_RDONLY), at: "f5")
        #expect(names.filter { cache.file(at: $0) != nil } == ["f5", "f6", "f7"])
        cache.removeAll()
        #expect(names.allSatisfy { cache.file(at: $0) == nil })
        #expect((32...1_024).contains(OpenFileCache.capacityForOpenFileLimit))
    }

    /// Caches sharing a budget keep no more files together than it allows; a file past it is
    /// not kept, and whatever a cache lets go (evicted, emptied, or the cache itself gone) can be
    /// kept by another.
    @Test func openFileCachesShareOneBudget() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        for name in ["a", "b", "c", "d"] { try MirrorFiles.write([1], name, in: root) }
        let directory = try DirectoryHandle.open(root: root)
        func open(_ name: String) throws -> OpenFile { try directory.openFile(name, flags: O_RDONLY) }
        let budget = OpenFileCache.Budget(limit: 3)
        let first = OpenFileCache(capacity: 2, budget: budget)
        var second: OpenFileCache? = OpenFileCache(capacity: 2, budget: budget)
        first.keep(try open("a"), at: "a")
        first.keep(try open("b"), at: "b")
        second?.keep(try open("c"), at: "c")
        second?.keep(try open("d"), at: "d")
        #expect(budget.keptFiles == 3)
        #expect(second?.file(at: "c") != nil && second?.file(at: "d") == nil)
        // Full, a cache still turns over within its own places.
        first.keep(try open("c"), at: "c")
        #expect(first.file(at: "a") == nil && first.file(at: "c") != nil && budget.keptFiles == 3)
        first.evict("b")
        second?.keep(try open("d"), at: "d")
        #expect(second?.file(at: "d") != nil && budget.keptFiles == 3)
        second = nil
        #expect(budget.keptFiles == 1)
        first.removeAll()
        #expect(budget.keptFiles == 0)
    }

    /// A walker that only looks remembers a missing directory (a first mirror's plan asks after
    /// every path below it); one that changes the tree looks again.
    @Test func onlyALookingWalkerRemembersMissingDirectories() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let looking = TreeWalker(root: try DirectoryHandle.open(root: root), onlyLooking: true)
        let changing = TreeWalker(root: try DirectoryHandle.open(root: root))
        #expect(try looking.status("a/b/file") == nil)
        #expect(try changing.status("a/b/file") == nil)
        try MirrorFiles.write([7], "a/b/file", in: root)
        #expect(try looking.status("a/b/file") == nil)
        #expect(try looking.directory("a") == nil)
        #expect(try changing.status("a/b/file")?.kind == .file)
        #expect(try TreeWalker(root: try DirectoryHandle.open(root: root), onlyLooking: true).status("a/b/file")?.kind == .file)
    }

    @Test func filesUnchangedSinceTheScanAreServedWithoutHashingUntilTheyChange() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let bytes = StoreTestContent.random(count: 100_000, seed: 40)
        try MirrorFiles.write(bytes, "a.bin", in: root)
        try StoreScratch.waitOutRacyWindow()
        let scan = try TreeScanner(root: root).scan()
        #expect(scan.cache.stamps.keys.sorted() == ["a.bin"])
        let chunk = try #require(scan.entries.first?.chunks.first)

        // The stamp is the whole check: an index told a chunk is where it is not believes it
        // while the file keeps its stamp (which is why only a scan's own stamps are given).
        let other = ChunkReference(hash: HashValue(SHA256.hash(data: [1, 2, 3])), length: chunk.length)
        let entry = MirrorEntry(path: "a.bin", kind: .file(chunks: [other]), mode: 0o644, modified: scan.entries[0].modified)
        let index = try LocalChunkIndex(root: root, entries: [entry], unchanged: scan.cache.stamps)
        #expect(index.read(other) == Array(bytes.prefix(Int(chunk.length))))

        // Rewritten with the same size and modification time: the change time moved, so the bytes
        // are hashed, found wrong and the place forgotten.
        let status = try #require(scan.cache.records["a.bin"])
        try MirrorFiles.write(StoreTestContent.random(count: 100_000, seed: 41), "a.bin", in: root)
        try MirrorFiles.setModified("a.bin", in: root, to: status.stamp.modified)
        #expect(index.read(other) == nil)
        #expect(!index.contains(other.hash))
    }

    @Test(.serialized, arguments: [true, false])
    func pathsOpenBelowTheRootWithoutFollowingLinks(oneCall: Bool) throws {
        // Both ways the kernel may be asked: one openat2, or a component at a time (kernels
        // before 5.6, seccomp filters). Switching affects other tests only in how, not what.
        DirectoryHandle.kernelResolvesBeneath.store(oneCall, ordering: .relaxed)
        defer { DirectoryHandle.kernelResolvesBeneath.store(true, ordering: .relaxed) }
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        let outside = try scratch.directory("outside")
        try MirrorFiles.write("inside", "d/e/file", in: root)
        try MirrorFiles.write("outside", "secret", in: outside)
        try MirrorFiles.symlink("linkdir", to: outside, in: root)
        try MirrorFiles.symlink("d/linkfile", to: "\(outside)/secret", in: root)
        let handle = try DirectoryHandle.open(root: root)
        let file = try #require(try handle.openFile(relativePath: "d/e/file", flags: O_RDONLY))
        var buffer = [UInt8](repeating: 0, count: 6)
        #expect(try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 0) } == 6)
        #expect(buffer == Array("inside".utf8))
        for refused in ["linkdir/secret", "d/linkfile", "../outside/secret", "d/../../outside/secret", "d//e/file", "./d/e/file", "/etc/passwd", "d/missing"] {
            #expect(try handle.openFile(relativePath: refused, flags: O_RDONLY) == nil, "\(refused)")
        }
    }

    @Test func aFileChangingWhileItIsReadIsReadAgainOrReported() throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        try MirrorFiles.write(StoreTestContent.random(count: 100_000, seed: 40), "a.bin", in: root)
        try MirrorFiles.write(StoreTestContent.random(count: 100_000, seed: 41), "b.bin", in: root)
        let rewritten = StoreTestContent.random(count: 120_000, seed: 42)

        // Rewritten in place once, right after its first read: the second read is recorded.
        let rewrites = Mutex(0)
        let once = TreeScanner(root: root, threads: 1) { path in
            guard path == "a.bin", rewrites.withLock({ count in defer { count += 1 }; return count == 0 }) else { return }
            MirrorFiles.overwrite("\(root)/a.bin", with: rewritten)
        }
        let first = try once.scan()
        let reference = try TreeScanner(root: root).scan()
        #expect(first.entries == reference.entries)
        #expect(first.statistics.filesHashed == 2)
        // b.bin, then a.bin before and after its rewrite.
        #expect(first.statistics.bytesHashed == 100_000 + 100_000 + 120_000)

        // Growing after every read: reported, and neither recorded nor cached.
        let always = TreeScanner(root: root, threads: 1) { path in
            guard path == "b.bin" else { return }
            MirrorFiles.overwrite("\(root)/b.bin", with: StoreTestContent.random(count: 100_000 + rewrites.withLock { count in count += 1; return count }, seed: 43))
        }
        let second = try always.scan()
        #expect(second.entries.map(\.path) == ["a.bin"])
        #expect(second.skipped == [SkippedPath(path: "b.bin", reason: .changedWhileHashing)])
        #expect(second.cache.records["b.bin"] == nil)
    }
}

extension MirrorFiles {
    /// Rewrites a file in place (same inode), as an editor saving without a rename would.
    static func overwrite(_ path: String, with bytes: [UInt8]) {
        let descriptor = open(path, O_WRONLY | O_TRUNC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }
}
