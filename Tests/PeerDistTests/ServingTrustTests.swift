import Foundation
import PeerDistHashing
import Testing
@testable import PeerDistStore

#if canImport(Glibc)
import Glibc
#endif

/// A published file's blocks are served unhashed while the file keeps the stamp they were hashed
/// under, and hashed again once it moved: a file rewritten in place, even with its size and mtime
/// put back, never has a stale block served.
@Suite struct ServingTrustTests {
    /// A published file, old enough (past `FileStamp.slowSettlingNanoseconds`) for its stamp to be trusted.
    static func settledPublication() throws -> (StoreScratch, [UInt8], String, ContentStore, ContentID) {
        let (scratch, bytes, file) = try StoreScratch.withFile(count: 4 * 65_536, seed: 19)
        Thread.sleep(forTimeInterval: Double(FileStamp.slowSettlingNanoseconds) / 1e9 + 0.2)
        let store = try scratch.openStore()
        let id = try store.publish(path: file).contentID
        return (scratch, bytes, file, store, id)
    }

    static func isTrusted(_ store: ContentStore, _ file: String, block: Int) throws -> Bool {
        let stamp = try #require(FileStamp.of(file))
        return store.servingTrust.withLock { $0.isVerified(path: file, number: block, stamp: stamp) }
    }

    @Test func aSettledPublicationIsServedUnhashedWhileItsStampHolds() throws {
        let (scratch, bytes, file, store, id) = try Self.settledPublication()
        _ = scratch
        // Hashed whole when published: every block trusted under the file's stamp.
        for block in 0..<4 {
            #expect(try Self.isTrusted(store, file, block: block))
            #expect(try store.readBlockToServe(contentID: id, segmentIndex: 0, blockIndex: block) == Array(bytes[(block * 65_536)..<((block + 1) * 65_536)]))
        }
        // Touching the file moves its ctime (and mtime): the trust is gone, the blocks still
        // verify, and are trusted again only once the new stamp has settled.
        #expect(utimensat(AT_FDCWD, file, nil, 0) == 0)
        #expect(try !Self.isTrusted(store, file, block: 0))
    }

    @Test func aFileRewrittenInPlaceWithSizeAndMtimeRestoredIsNeverServedStale() throws {
        let (scratch, bytes, file, store, id) = try Self.settledPublication()
        _ = scratch
        #expect(try store.readBlockToServe(contentID: id, segmentIndex: 0, blockIndex: 1) == Array(bytes[65_536..<131_072]))
        var before = stat()
        #expect(stat(file, &before) == 0)

        // Rewrite block 1 in place, same size, then put the access and modification times back.
        let descriptor = open(file, O_WRONLY)
        #expect(descriptor >= 0)
        let changed = [UInt8](repeating: 0xEE, count: 65_536)
        #expect(changed.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 65_536) } == 65_536)
        close(descriptor)
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, file, &times, 0) == 0)
        var after = stat()
        #expect(stat(file, &after) == 0)
        #expect(after.st_size == before.st_size && after.st_ino == before.st_ino)
        #expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)

        // The publication's own status (size, mtime, inode) cannot tell; the ctime can.
        #expect(try !Self.isTrusted(store, file, block: 1))
        #expect(try store.readBlockToServe(contentID: id, segmentIndex: 0, blockIndex: 1) == nil)
        // Once a block failed, the publication is stale: nothing of it is served.
        #expect(try store.readBlockToServe(contentID: id, segmentIndex: 0, blockIndex: 0) == nil)
        #expect(store.published().first?.isStale == true)
    }

    /// Reads one block through `reader`, or nil when it serves none.
    static func read(_ reader: SegmentBlockReader, block: Int) throws -> [UInt8]? {
        let length = try #require(reader.length(ofBlock: block))
        var served = false
        let bytes = try [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            served = try reader.read(block: block, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = length
        }
        return served ? bytes : nil
    }

    @Test func aRequestsReaderServesEveryBlockOfTheSegment() throws {
        let (scratch, bytes, file, store, id) = try Self.settledPublication()
        _ = scratch
        let reader = try #require(store.blockReader(contentID: id, segmentIndex: 0))
        #expect(reader.length(ofBlock: 4) == nil)
        for block in [2, 0, 3, 1, 2] {
            #expect(try Self.read(reader, block: block) == Array(bytes[(block * 65_536)..<((block + 1) * 65_536)]))
        }
        #expect(try Self.isTrusted(store, file, block: 3))
        #expect(store.blockReader(contentID: id, segmentIndex: 1) == nil)
    }

    /// A reader keeps the file open between blocks; a rewrite in place between two of its reads,
    /// with size and mtime put back, is caught all the same: the block after it is hashed, fails,
    /// and nothing more of the publication is served.
    @Test func aFileRewrittenWhileARequestsReaderHoldsItIsNeverServedStale() throws {
        let (scratch, bytes, file, store, id) = try Self.settledPublication()
        _ = scratch
        let reader = try #require(store.blockReader(contentID: id, segmentIndex: 0))
        #expect(try Self.read(reader, block: 0) == Array(bytes[0..<65_536]))

        var before = stat()
        #expect(stat(file, &before) == 0)
        let descriptor = open(file, O_WRONLY)
        #expect(descriptor >= 0)
        let changed = [UInt8](repeating: 0xEE, count: 65_536)
        #expect(changed.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 2 * 65_536) } == 65_536)
        close(descriptor)
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, file, &times, 0) == 0)

        #expect(try Self.read(reader, block: 2) == nil)
        #expect(try Self.read(reader, block: 1) == nil)
        #expect(store.published().first?.isStale == true)
        let again = try #require(store.blockReader(contentID: id, segmentIndex: 0))
        #expect(try Self.read(again, block: 1) == nil)
    }

    /// A file replaced by another under its name while a reader holds the old one: the reader may
    /// finish from the file it opened (whose blocks are the published ones), and a new reader
    /// finds the replacement is not the published file.
    @Test func aFileReplacedUnderItsNameIsNotServedByTheNextReader() throws {
        let (scratch, bytes, file, store, id) = try Self.settledPublication()
        let reader = try #require(store.blockReader(contentID: id, segmentIndex: 0))
        #expect(try Self.read(reader, block: 0) == Array(bytes[0..<65_536]))
        let replacement = scratch.path + "/replacement"
        try Data(repeating: 0x11, count: bytes.count).write(to: URL(fileURLWithPath: replacement))
        #expect(rename(replacement, file) == 0)
        #expect(try Self.read(reader, block: 3) == Array(bytes[(3 * 65_536)...]))
        let next = try #require(store.blockReader(contentID: id, segmentIndex: 0))
        #expect(try Self.read(next, block: 1) == nil)
        #expect(store.published().first?.isStale == true)
    }

    /// Local file systems stamp ctime from the kernel's clock: a file quiet for more than a tick
    /// is trusted from its publication on, with no wait of 2 s.
    @Test func aFileOnALocalFileSystemIsTrustedOnceQuietForATick() throws {
        let (scratch, _, file) = try StoreScratch.withFile(count: 4 * 65_536, seed: 23)
        try #require(FileStamp.settlingNanoseconds(ofFileSystemAt: scratch.path) == FileStamp.localSettlingNanoseconds, "the scratch directory is not on a local file system")
        Thread.sleep(forTimeInterval: Double(FileStamp.localSettlingNanoseconds) / 1e9 + 0.05)
        let store = try scratch.openStore()
        _ = try store.publish(path: file)
        for block in 0..<4 { #expect(try Self.isTrusted(store, file, block: block)) }
    }

    @Test func fileSystemsAreToldApartBySettlingTime() {
        #expect(FileStamp.settlingNanoseconds(ofFileSystemAt: "/dev/shm") == FileStamp.localSettlingNanoseconds)  // tmpfs
        #expect(FileStamp.settlingNanoseconds(ofFileSystemType: 0xEF53) == FileStamp.localSettlingNanoseconds)  // ext4
        #expect(FileStamp.settlingNanoseconds(ofFileSystemType: 0x4D44) == FileStamp.slowSettlingNanoseconds)  // FAT
        #expect(FileStamp.settlingNanoseconds(ofFileSystemType: 0x6969) == FileStamp.slowSettlingNanoseconds)  // NFS
        #expect(FileStamp.settlingNanoseconds(ofFileSystemType: 0x6573_5546) == FileStamp.slowSettlingNanoseconds)  // FUSE
        #expect(FileStamp.settlingNanoseconds(ofFileSystemAt: "/no/such/place") == FileStamp.slowSettlingNanoseconds)
    }

    @Test func aStampChangedWithinTheSettlingTimeIsNotTrusted() {
        var status = stat()
        status.st_size = 65_536
        let now = FileStamp.now()
        func stamp(changedAgo nanoseconds: Int64) -> FileStamp {
            let changed = now - nanoseconds
            status.st_ctim = timespec(tv_sec: Int(changed / 1_000_000_000), tv_nsec: Int(changed % 1_000_000_000))
            return FileStamp(status)
        }
        var trust = ServingTrust()
        // A write in the same coarse clock tick could leave such a ctime as it was.
        let recent = stamp(changedAgo: FileStamp.slowSettlingNanoseconds / 2)
        trust.verified(path: "/f", number: 0, blockCount: 2, stamp: recent, now: now)
        #expect(!trust.isVerified(path: "/f", number: 0, stamp: recent))
        let settled = stamp(changedAgo: FileStamp.slowSettlingNanoseconds * 2)
        trust.verified(path: "/f", number: 0, blockCount: 2, stamp: settled, now: now)
        #expect(trust.isVerified(path: "/f", number: 0, stamp: settled))
        #expect(!trust.isVerified(path: "/f", number: 1, stamp: settled))
        // Another stamp (the file changed) starts afresh.
        let later = stamp(changedAgo: FileStamp.slowSettlingNanoseconds * 3 / 2)
        #expect(!trust.isVerified(path: "/f", number: 0, stamp: later))
        trust.verified(path: "/f", number: 1, blockCount: 2, stamp: later, now: now)
        #expect(trust.isVerified(path: "/f", number: 1, stamp: later))
        #expect(!trust.isVerified(path: "/f", number: 0, stamp: later))
    }
}
