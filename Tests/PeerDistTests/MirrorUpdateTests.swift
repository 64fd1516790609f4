import Foundation
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistMirror

/// A follower's tree follows the publisher's: every kind of change round-trips, chunks it holds
/// are not fetched, local changes are moved aside, links never lead writes outside, and an
/// interrupted or failed update ends on one version.
@Suite struct MirrorUpdateTests {
    @Test func updatesRoundTripEveryKindOfChange() throws {
        var pair = try MirrorPair()
        let p = pair.publisher
        try MirrorFiles.write("read me", "docs/readme.txt", in: p)
        try MirrorFiles.write(StoreTestContent.random(count: 150_000, seed: 1), "docs/old.bin", in: p)
        try MirrorFiles.write(StoreTestContent.random(count: 50_000, seed: 2), "bin/tool", in: p, mode: 0o755)
        try MirrorFiles.write(StoreTestContent.random(count: 1 << 20, seed: 3), "data/big.bin", in: p)
        try MirrorFiles.write([], "empty.txt", in: p)
        try MirrorFiles.symlink("link", to: "docs/readme.txt", in: p)
        try MirrorFiles.symlink("linkToDir", to: "docs", in: p)
        try MirrorFiles.write("inner", "dirToFile/inner.txt", in: p)
        try MirrorFiles.write("file", "fileToDir", in: p)
        try MirrorFiles.write("x", "gone/deeper/x", in: p)
        try MirrorFiles.makeDirectory("emptydir", in: p)
        let a = try pair.sync()
        #expect(try pair.followerEntries() == a.entries)
        #expect(a.commit.movedAside.isEmpty)
        #expect(try pair.leftovers().isEmpty)

        try MirrorFiles.write("read me again", "docs/readme.txt", in: p)
        try FileManager.default.moveItem(atPath: "\(p)/docs/old.bin", toPath: "\(p)/docs/new-name.bin")
        try MirrorFiles.remove("gone", in: p)
        #expect(chmod("\(p)/bin/tool", 0o700) == 0)
        try MirrorFiles.remove("link", in: p)
        try MirrorFiles.symlink("link", to: "bin/tool", in: p)
        try MirrorFiles.remove("dirToFile", in: p)
        try MirrorFiles.write("now a file", "dirToFile", in: p)
        try MirrorFiles.remove("fileToDir", in: p)
        try MirrorFiles.write("child", "fileToDir/child.txt", in: p)
        try MirrorFiles.remove("linkToDir", in: p)
        try MirrorFiles.write("under", "linkToDir/file", in: p)
        try MirrorFiles.write([], "new/empty-file", in: p)
        #expect(chmod("\(p)/emptydir", 0o711) == 0)
        let b = try pair.sync()
        #expect(try pair.followerEntries() == b.entries)
        #expect(b.commit.movedAside.isEmpty)
        #expect(try pair.leftovers().isEmpty)
        #expect(try MirrorFiles.read("dirToFile", in: pair.follower) == Array("now a file".utf8))
        // The renamed file and the unchanged big one came from local copies, not the wire; the
        // big one was not even rewritten.
        let renamed = try #require(b.entries.first { $0.path == "docs/new-name.bin" })
        #expect(b.missing.allSatisfy { !renamed.chunks.contains($0.chunk) })
        #expect(b.missing.count <= 6)
        #expect(b.commit.applied.stamps["data/big.bin"] == a.commit.applied.stamps["data/big.bin"])

        // Nothing new: nothing to fetch, and the tree stays as it is.
        let c = try pair.sync()
        #expect(c.missing.isEmpty)
        #expect(try pair.followerEntries() == b.entries)
    }

    @Test func insertingOneByteFetchesAtMostTwoChunks() throws {
        var pair = try MirrorPair()
        var bytes = StoreTestContent.random(count: 4 << 20, seed: 10)
        try MirrorFiles.write(bytes, "big.bin", in: pair.publisher)
        _ = try pair.sync()
        bytes.insert(0x42, at: 2 << 20)
        try MirrorFiles.write(bytes, "big.bin", in: pair.publisher)
        let b = try pair.sync()
        #expect(b.missing.count >= 1)
        #expect(b.missing.count <= 2)
        #expect(try MirrorFiles.read("big.bin", in: pair.follower) == bytes)
        #expect(try pair.followerEntries() == b.entries)
    }

    @Test func chunksAreCopiedOnlyFromFilesStillAsRecorded() throws {
        var pair = try MirrorPair()
        let first = StoreTestContent.random(count: 3 << 20, seed: 12)
        let second = StoreTestContent.random(count: 3 << 20, seed: 13)
        try MirrorFiles.write(first, "a.bin", in: pair.publisher)
        try MirrorFiles.write(second, "b.bin", in: pair.publisher)
        _ = try pair.sync()

        // b.bin is rewritten locally with other bytes, its size and modification time put back:
        // only its change time tells. Both files move; a.bin's chunks are copied, b.bin's fetched.
        let recorded = try #require(pair.applied.stamps["b.bin"])
        var tampered = second
        for index in stride(from: 0, to: tampered.count, by: 4096) { tampered[index] ^= 0xFF }
        try MirrorFiles.write(tampered, "b.bin", in: pair.follower)
        try MirrorFiles.setModified("b.bin", in: pair.follower, to: recorded.modified)
        for name in ["a.bin", "b.bin"] { try MirrorFiles.remove(name, in: pair.publisher) }
        try MirrorFiles.write(first, "moved/a.bin", in: pair.publisher)
        try MirrorFiles.write(second, "moved/b.bin", in: pair.publisher)
        let entries = try pair.publish()
        let update = try pair.prepare(entries)
        #expect(update.progress.heldBytes == UInt64(first.count))
        #expect(update.progress.missingBytes == UInt64(second.count))
        try pair.fetch(update, from: entries)
        let commit = try update.commit()
        pair.applied = commit.applied
        #expect(try MirrorFiles.read("moved/a.bin", in: pair.follower) == first)
        #expect(try MirrorFiles.read("moved/b.bin", in: pair.follower) == second)
        #expect(commit.movedAside == [MovedAside(path: "b.bin", movedTo: "b.bin.peerdist-conflict-2")])
        #expect(try MirrorFiles.read("b.bin.peerdist-conflict-2", in: pair.follower) == tampered)
        #expect(try pair.followerEntries() == entries)
    }

    @Test func aRenamedFileNeedsNoChunks() throws {
        var pair = try MirrorPair()
        let bytes = StoreTestContent.random(count: 600_000, seed: 11)
        try MirrorFiles.write(bytes, "a.bin", in: pair.publisher)
        _ = try pair.sync()
        try MirrorFiles.remove("a.bin", in: pair.publisher)
        try MirrorFiles.write(bytes, "moved/b.bin", in: pair.publisher)
        let entries = try pair.publish()
        let update = try pair.prepare(entries)
        #expect(update.missing.isEmpty)
        #expect(update.progress == MirrorUpdate.Progress(missingChunks: 0, missingBytes: 0, heldBytes: 600_000))
        pair.applied = try update.commit().applied
        #expect(try pair.followerEntries() == entries)
        #expect(try MirrorFiles.read("moved/b.bin", in: pair.follower) == bytes)
    }

    @Test func chunksAreStoredOnceWhereverTheyGoAndCommitWaitsForThem() throws {
        var pair = try MirrorPair()
        _ = try pair.sync()
        let bytes = StoreTestContent.random(count: 300_000, seed: 12)
        try MirrorFiles.write(bytes, "one.bin", in: pair.publisher)
        try MirrorFiles.write(bytes, "two.bin", in: pair.publisher)
        let entries = try pair.publish()
        let update = try pair.prepare(entries)
        let missing = update.missing
        let chunkCount = entries[0].chunks.count
        #expect(missing.count == chunkCount)
        #expect(missing.allSatisfy { Set($0.destinations.map(\.path)) == ["one.bin", "two.bin"] })
        #expect(update.progress.missingBytes == 300_000)
        #expect(throws: MirrorError(.incomplete, "")) { try update.commit() }

        let source = try LocalChunkIndex(root: pair.publisher, entries: entries)
        let first = try #require(missing.first)
        #expect(throws: MirrorError(.invalidArgument, "")) { try update.store([1, 2, 3], for: first.chunk) }
        #expect(try update.store(try #require(source.read(first.chunk)), for: first.chunk))
        #expect(try !update.store(try #require(source.read(first.chunk)), for: first.chunk))
        #expect(update.progress.heldBytes == UInt64(first.chunk.length))
        // The stored chunk can be served to other followers before the commit.
        #expect(update.index.read(first.chunk) != nil)

        try pair.fetch(update, from: entries)
        #expect(update.progress.missingChunks == 0)
        pair.applied = try update.commit().applied
        #expect(try pair.followerEntries() == entries)
        #expect(throws: MirrorError(.invalidState, "")) { try update.commit() }
    }

    @Test func localEditsAreMovedAsideNotLost() throws {
        var pair = try MirrorPair()
        let (p, f) = (pair.publisher, pair.follower)
        try MirrorFiles.write("v1", "notes.txt", in: p)
        try MirrorFiles.write("kept", "keep.txt", in: p)
        try MirrorFiles.write("deleted locally", "lost.txt", in: p)
        try MirrorFiles.write("a", "old/a", in: p)
        _ = try pair.sync()

        // Local changes: edits of a file B changes and of one it keeps, a deleted file, a new
        // file and a new directory where B puts files, and a file of our own in a directory B drops.
        try MirrorFiles.write("mine", "notes.txt", in: f)
        try MirrorFiles.write("my keep", "keep.txt", in: f)
        try MirrorFiles.remove("lost.txt", in: f)
        try MirrorFiles.write("local new", "new.txt", in: f)
        try MirrorFiles.write("local dir content", "newdir/inside", in: f)
        try MirrorFiles.write("my own", "old/mine", in: f)

        try MirrorFiles.write("v2", "notes.txt", in: p)
        try MirrorFiles.write("published new", "new.txt", in: p)
        try MirrorFiles.write("published file", "newdir", in: p)
        try MirrorFiles.remove("old", in: p)
        let b = try pair.sync()

        #expect(try pair.followerEntries() == b.entries)
        #expect(Set(b.commit.movedAside) == [
            MovedAside(path: "notes.txt", movedTo: "notes.txt.peerdist-conflict-2"),
            MovedAside(path: "keep.txt", movedTo: "keep.txt.peerdist-conflict-2"),
            MovedAside(path: "new.txt", movedTo: "new.txt.peerdist-conflict-2"),
            MovedAside(path: "newdir", movedTo: "newdir.peerdist-conflict-2"),
            MovedAside(path: "old", movedTo: "old.peerdist-conflict-2"),
        ])
        #expect(try MirrorFiles.read("notes.txt", in: f) == Array("v2".utf8))
        #expect(try MirrorFiles.read("notes.txt.peerdist-conflict-2", in: f) == Array("mine".utf8))
        #expect(try MirrorFiles.read("keep.txt", in: f) == Array("kept".utf8))
        #expect(try MirrorFiles.read("keep.txt.peerdist-conflict-2", in: f) == Array("my keep".utf8))
        #expect(try MirrorFiles.read("lost.txt", in: f) == Array("deleted locally".utf8))
        #expect(try MirrorFiles.read("new.txt.peerdist-conflict-2", in: f) == Array("local new".utf8))
        #expect(try MirrorFiles.read("newdir.peerdist-conflict-2/inside", in: f) == Array("local dir content".utf8))
        // B's own file in the dropped directory went; the local one stayed, with its directory.
        #expect(try MirrorFiles.names(in: "\(f)/old.peerdist-conflict-2") == ["mine"])

        // A second conflict on the same path gets a name of its own.
        try MirrorFiles.write("mine again", "notes.txt", in: f)
        try MirrorFiles.write("v3", "notes.txt", in: p)
        let c = try pair.sync()
        #expect(c.commit.movedAside == [MovedAside(path: "notes.txt", movedTo: "notes.txt.peerdist-conflict-3")])
        #expect(try MirrorFiles.read("notes.txt.peerdist-conflict-2", in: f) == Array("mine".utf8))
    }

    @Test func linksSwappedInLocallyNeverLeadWritesOutside() throws {
        var pair = try MirrorPair()
        let (p, f) = (pair.publisher, pair.follower)
        try MirrorFiles.write("x1", "d/x.txt", in: p)
        try MirrorFiles.write("y1", "d/sub/y.txt", in: p)
        try MirrorFiles.write("f1", "f.txt", in: p)
        _ = try pair.sync()

        let outside = try pair.scratch.directory("outside")
        try MirrorFiles.write("outside x", "x.txt", in: outside)
        try MirrorFiles.write("secret", "secret", in: outside)
        try MirrorFiles.remove("d", in: f)
        try MirrorFiles.symlink("d", to: outside, in: f)
        try MirrorFiles.remove("f.txt", in: f)
        try MirrorFiles.symlink("f.txt", to: "\(outside)/secret", in: f)

        try MirrorFiles.write("x2", "d/x.txt", in: p)
        try MirrorFiles.write("z2", "d/z.txt", in: p)
        try MirrorFiles.remove("d/sub/y.txt", in: p)
        try MirrorFiles.write("f2", "f.txt", in: p)
        let b = try pair.sync()

        #expect(try MirrorFiles.names(in: outside) == ["secret", "x.txt"])
        #expect(try MirrorFiles.read("x.txt", in: outside) == Array("outside x".utf8))
        #expect(try MirrorFiles.read("secret", in: outside) == Array("secret".utf8))
        #expect(!MirrorFiles.isSymlink("d", in: f))
        #expect(MirrorFiles.isSymlink("d.peerdist-conflict-2", in: f))
        #expect(MirrorFiles.isSymlink("f.txt.peerdist-conflict-2", in: f))
        #expect(Set(b.commit.movedAside.map(\.path)) == ["d", "f.txt"])
        #expect(try pair.followerEntries() == b.entries)
    }

    @Test func aCommitStoppedAfterAnyOperationRecoversToB() throws {
        var stopAfter = 0
        while true {
            var pair = try MirrorPair()
            let p = pair.publisher
            try MirrorFiles.write("one", "a/one.txt", in: p)
            try MirrorFiles.write("two", "a/two.txt", in: p)
            try MirrorFiles.write("inner", "dirToFile/inner.txt", in: p)
            try MirrorFiles.write("file", "fileToDir", in: p)
            try MirrorFiles.symlink("link", to: "a/one.txt", in: p)
            try MirrorFiles.write("gone", "gone/x", in: p)
            let a = try pair.sync()

            try MirrorFiles.write("one v2", "a/one.txt", in: p)
            try FileManager.default.moveItem(atPath: "\(p)/a/two.txt", toPath: "\(p)/a/two-moved.txt")
            try MirrorFiles.remove("dirToFile", in: p)
            try MirrorFiles.write("now a file", "dirToFile", in: p)
            try MirrorFiles.remove("fileToDir", in: p)
            try MirrorFiles.write("child", "fileToDir/child.txt", in: p)
            try MirrorFiles.remove("link", in: p)
            try MirrorFiles.symlink("link", to: "fileToDir/child.txt", in: p)
            try MirrorFiles.remove("gone", in: p)
            try MirrorFiles.write("new", "new/deep/file.txt", in: p)
            let entries = try pair.publish()
            let update = try pair.prepare(entries)
            try pair.fetch(update, from: entries)
            if stopAfter >= update.operationCount {
                #expect(stopAfter > 10)
                return
            }

            #expect(throws: MirrorError(.invalidState, "")) { try update.commit(stoppingAfter: stopAfter) }
            #expect(throws: MirrorError(.invalidState, "")) { try update.store([], for: entries[0].chunks.first ?? ChunkReference(hash: HashValue([]), length: 0)) }
            #expect(throws: MirrorError(.invalidState, "")) {
                try MirrorUpdate.prepare(directory: pair.follower, from: a.commit.applied, to: entries, version: 3)
            }
            #expect(try MirrorUpdate.recover(directory: pair.follower) == .rolledForward(version: 2, movedAside: []))
            #expect(try pair.followerEntries() == entries, "stopped after \(stopAfter) operations")
            #expect(try pair.leftovers().isEmpty)
            #expect(try MirrorUpdate.recover(directory: pair.follower) == .nothingPending)

            // The recovered version, stamped afresh, is a base for the next update.
            pair.applied = try AppliedTree(stamping: entries, version: 2, in: pair.follower)
            let c = try pair.sync()
            #expect(c.missing.isEmpty)
            #expect(c.commit.movedAside.isEmpty)
            stopAfter += 1
        }
    }

    @Test func stagingWithoutAJournalIsDiscardedAndTheTreeStaysOnA() throws {
        var pair = try MirrorPair()
        try MirrorFiles.write("v1", "file.txt", in: pair.publisher)
        let a = try pair.sync()
        try MirrorFiles.write("v2", "file.txt", in: pair.publisher)
        try MirrorFiles.write(StoreTestContent.random(count: 200_000, seed: 13), "added.bin", in: pair.publisher)
        let entries = try pair.publish()
        do {
            // Dropped after fetching everything, as if the process died before committing.
            let update = try pair.prepare(entries)
            try pair.fetch(update, from: entries)
            #expect(try MirrorFiles.names(in: pair.follower).contains(".peerdist-staging"))
        }
        #expect(try MirrorUpdate.recover(directory: pair.follower) == .discardedStaging)
        #expect(try pair.followerEntries() == a.entries)
        #expect(try pair.leftovers().isEmpty)

        // Abandoning does the same.
        let update = try pair.prepare(entries)
        update.abandon()
        #expect(try pair.followerEntries() == a.entries)
        #expect(try pair.leftovers().isEmpty)
        #expect(throws: MirrorError(.invalidState, "")) { try update.commit() }

        let b = try pair.sync()
        #expect(try pair.followerEntries() == b.entries)
    }

    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func aFullDiskFailsCleanlyAndLeavesTheTreeOnA() throws {
        var pair = try MirrorPair()
        guard FileManager.default.fileExists(atPath: "/bin/mount"),
              (try? StoreSubprocess.run("/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", pair.follower)) == 0
        else {
            try Test.cancel("cannot mount a tmpfs here")
        }
        defer { _ = try? StoreSubprocess.run("/bin/umount", pair.follower) }

        for index in 0..<3 {
            try MirrorFiles.write(StoreTestContent.random(count: 100_000, seed: UInt64(20 + index)), "file\(index).bin", in: pair.publisher)
        }
        let a = try pair.sync()
        #expect(try pair.followerEntries() == a.entries)

        try MirrorFiles.write(StoreTestContent.random(count: 100_000, seed: 30), "file1.bin", in: pair.publisher)
        try MirrorFiles.write(StoreTestContent.random(count: 2 << 20, seed: 31), "huge.bin", in: pair.publisher)
        let entries = try pair.publish()
        let error = try #require(throws: MirrorError.self) { try pair.prepare(entries) }
        #expect(error.code == .noSpace)
        #expect(error.errno == ENOSPC)
        #expect(error.message.contains("no space left on device"))
        #expect(error.message.contains("the update needs"))
        #expect(try pair.followerEntries() == a.entries)
        #expect(try pair.leftovers().isEmpty)
        #expect(try MirrorUpdate.recover(directory: pair.follower) == .nothingPending)

        // Room when the update starts, none left when its chunks arrive: the write fails, the
        // staging goes, and the tree stays on A.
        try MirrorFiles.remove("huge.bin", in: pair.publisher)
        let fitting = try pair.publish()
        let update = try pair.prepare(fitting)
        _ = try StoreSubprocess.run("/bin/sh", "-c", "dd if=/dev/zero of='\(pair.follower)/filler.local' bs=4096 2>/dev/null")
        let late = try #require(throws: MirrorError.self) { try pair.fetch(update, from: fitting) }
        #expect(late.code == .noSpace)
        #expect(try pair.followerEntries().filter { $0.path != "filler.local" } == a.entries)
        #expect(try pair.leftovers().isEmpty)
        try MirrorFiles.remove("filler.local", in: pair.follower)

        // Once it fits, the same update goes through.
        let b = try pair.sync()
        #expect(try pair.followerEntries() == b.entries)
    }
}

/// A publisher's directory and a follower's copy of it, with the version the follower applied.
struct MirrorPair {
    let scratch: StoreScratch
    let publisher: String
    let follower: String
    var applied = AppliedTree.empty

    init() throws {
        scratch = try StoreScratch.mirror()
        publisher = try scratch.directory("publisher")
        follower = try scratch.directory("follower")
    }

    /// The publisher's tree as a manifest lists it.
    func publish() throws -> [MirrorEntry] {
        try TreeScanner(root: publisher).scan().entries
    }

    /// The follower's tree, scanned the same way, without the local changes moved aside.
    func followerEntries() throws -> [MirrorEntry] {
        try TreeScanner(root: follower).scan().entries.filter { entry in
            !entry.path.split(separator: "/").contains { $0.contains(".peerdist-conflict-") }
        }
    }

    /// PeerDist's own names left in the follower's root.
    func leftovers() throws -> [String] {
        try MirrorFiles.names(in: follower).filter { $0.hasPrefix(".peerdist-") }
    }

    /// Prepares the update to `entries` as the next version.
    func prepare(_ entries: [MirrorEntry]) throws -> MirrorUpdate {
        try MirrorUpdate.prepare(directory: follower, from: applied, to: entries, version: applied.version + 1)
    }

    /// Stores every missing chunk, read (and verified) from the publisher's files as a peer
    /// would serve them.
    func fetch(_ update: MirrorUpdate, from entries: [MirrorEntry]) throws {
        let source = try LocalChunkIndex(root: publisher, entries: entries)
        for wanted in update.missing {
            let bytes = try #require(source.read(wanted.chunk))
            #expect(try update.store(bytes, for: wanted.chunk))
        }
    }

    /// Brings the follower to the publisher's current tree.
    mutating func sync() throws -> (entries: [MirrorEntry], missing: [MirrorUpdate.MissingChunk], commit: MirrorCommit) {
        let entries = try publish()
        let update = try prepare(entries)
        let missing = update.missing
        try fetch(update, from: entries)
        let commit = try update.commit()
        applied = commit.applied
        return (entries, missing, commit)
    }
}
