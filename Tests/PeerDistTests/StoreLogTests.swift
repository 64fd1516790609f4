import Foundation
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistStore

/// The index log survives crashes: a torn or damaged tail is cut off on reopen and every record
/// before it holds; a log full of superseded records is compacted.
@Suite struct StoreLogTests {
    /// Publishes one file and starts one download, then closes the store.
    private func populate(_ scratch: StoreScratch) throws -> (published: ContentID, cached: ContentID) {
        let store = try scratch.openStore()
        let file = try scratch.write(StoreTestContent.random(count: 100_000, seed: 20), name: "published")
        let published = try store.publish(path: file).contentID
        let cached = try StoreTestContent.cache(StoreTestContent.random(count: 70_000, seed: 21), in: store)
        return (published, cached)
    }

    private func append(_ bytes: [UInt8], toLogIn scratch: StoreScratch) throws {
        let handle = try #require(FileHandle(forWritingAtPath: "\(scratch.storeDirectory)/index.log"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    @Test(arguments: [
        // A frame header announcing more bytes than follow: a record torn by a crash.
        [0, 0, 4, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9],
        // A frame header cut short.
        [0, 0],
        // A whole frame whose checksum does not match.
        [0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 6, 1],
    ] as [[UInt8]])
    func aTornTailIsCutOffAndEarlierRecordsSurvive(tail: [UInt8]) throws {
        let scratch = try StoreScratch()
        let (published, cached) = try populate(scratch)
        let cleanSize = try FileManager.default.attributesOfItem(atPath: "\(scratch.storeDirectory)/index.log")[.size] as? Int
        try append(tail, toLogIn: scratch)

        do {
            let store = try scratch.openStore()
            #expect(store.discardedLogBytes == UInt64(tail.count))
            #expect(Set(store.entries().map(\.contentID)) == [published, cached])
            #expect(store.entries().allSatisfy { $0.isComplete })
            #expect(try store.readVerifiedBlock(contentID: cached, segmentIndex: 0, blockIndex: 1) != nil)
            // The cut makes room: a record appended now is found on the next open.
            let other = try StoreTestContent.cache(StoreTestContent.random(count: 1000, seed: 22), in: store)
            #expect(store.entries().count == 3)
            _ = other
        }
        let reopened = try scratch.openStore()
        #expect(reopened.discardedLogBytes == 0)
        #expect(reopened.entries().count == 3)
        let size = try FileManager.default.attributesOfItem(atPath: "\(scratch.storeDirectory)/index.log")[.size] as? Int
        #expect(size.map { $0 > cleanSize ?? 0 } == true)
    }

    @Test func aDamagedLastRecordIsDroppedAlone() throws {
        let scratch = try StoreScratch()
        let (published, cached) = try populate(scratch)
        // The last record is the download's completion (a content ID after the frame header);
        // flipping one of its bytes makes it fail the check, so the entry is partial again.
        let path = "\(scratch.storeDirectory)/index.log"
        var log = try contents(of: path)
        log[log.count - 1] ^= 0x40
        try Data(log).write(to: URL(fileURLWithPath: path))

        let store = try scratch.openStore()
        #expect(store.discardedLogBytes == 12 + 1 + 32)
        let entries = Dictionary(uniqueKeysWithValues: store.entries().map { ($0.contentID, $0) })
        #expect(entries[published]?.isComplete == true)
        #expect(entries[cached]?.isComplete == true, "the finished file and its full bitmap are found and the entry recorded complete")
    }

    /// A crash after `finish()` renamed the file but before the log recorded it complete.
    @Test func aDownloadRenamedButNotRecordedIsFoundComplete() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 200_000, seed: 24)
        let (id, information) = StoreTestContent.describe(bytes, version: .v1)
        do {
            let store = try scratch.openStore()
            let download = try store.beginDownload(contentID: id, information: information)
            for (segment, block, range) in StoreTestContent.blocks(of: information) {
                try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
            }
            try download.flush()
            try FileManager.default.moveItem(
                atPath: "\(scratch.cacheDirectory)/\(id.hex).partial", toPath: "\(scratch.cacheDirectory)/\(id.hex).data")
        }
        let store = try scratch.openStore()
        #expect(store.entries().map(\.isComplete) == [true])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.cacheDirectory) == ["\(id.hex).data"])
        try store.export(contentID: id, to: "\(scratch.path)/exported", replacing: false)
        #expect(try contents(of: "\(scratch.path)/exported") == bytes)
    }

    @Test func aLogOfSupersededRecordsIsCompactedOnOpen() throws {
        let (scratch, bytes, file) = try StoreScratch.withFile(count: 70_000, seed: 23)
        let logPath = "\(scratch.storeDirectory)/index.log"
        do {
            let store = try scratch.openStore()
            for _ in 0..<50 { try store.publish(path: file) }
        }
        let grown = try contents(of: logPath).count
        let store = try ContentStore(directory: scratch.storeDirectory, quotaBytes: nil, flushInterval: 1 << 20, compactingAbove: 1024)
        let compacted = try contents(of: logPath).count
        #expect(compacted * 10 < grown)
        let id = try #require(store.published().first?.contentID)
        #expect(store.published().count == 1)
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: 0, blockIndex: 1) == Array(bytes[65_536...]))
    }

    @Test func aForeignFileIsNotTakenForTheLog() throws {
        let scratch = try StoreScratch()
        try FileManager.default.createDirectory(atPath: scratch.storeDirectory, withIntermediateDirectories: true)
        try scratch.write(Array("not a log".utf8), name: "store/index.log")
        let error = try #require(throws: StoreError.self) { try scratch.openStore() }
        #expect(error.code == .corruptIndex)
        #expect(error.message.contains("index.log: not a PeerDist store log"))
    }

    @Test func oneStoreDirectoryIsOpenedOnce() throws {
        let scratch = try StoreScratch()
        do {
            let store = try scratch.openStore()
            let error = try #require(throws: StoreError.self) { try scratch.openStore() }
            #expect(error.code == .busy)
            // Another process cannot take the lock either.
            if FileManager.default.fileExists(atPath: "/usr/bin/python3") {
                let locker = "import fcntl, sys; fcntl.lockf(open(sys.argv[1], 'r+'), fcntl.LOCK_EX | fcntl.LOCK_NB)"
                #expect(try StoreSubprocess.run("/usr/bin/python3", "-c", locker, "\(scratch.storeDirectory)/lock") != 0)
            }
            _ = store
        }
        // Closing the store releases it.
        _ = try scratch.openStore()
    }

    @Test func everyRecordRoundTrips() throws {
        let id = try #require(ContentID(bytes: Array(repeating: 7, count: 32)))
        let status = FileStatus(size: 12, modified: -3, inode: 99, device: 5)
        let records: [StoreLogRecord] = [
            .published(PublicationRecord(path: "/a b/ç", status: status, version: .v2, isStale: true, lastAccess: 42, contentID: id, information: [1, 2, 3])),
            .unpublished(path: "/x"), .markedStale(path: "/y"),
            .cached(CacheRecord(contentID: id, isComplete: false, size: 1 << 40, lastAccess: .max, information: [])),
            .completed(id), .uncached(id), .touched(id, at: 1_700_000_000_000_000_000),
        ]
        for record in records {
            let decoded = try #require(StoreLogRecord(decoding: record.encoded()))
            #expect(decoded.encoded() == record.encoded())
        }
        #expect(StoreLogRecord(decoding: []) == nil)
        #expect(StoreLogRecord(decoding: [99]) == nil)
        #expect(StoreLogRecord(decoding: StoreLogRecord.uncached(id).encoded() + [0]) == nil)
    }
}
