import Foundation
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistStore

/// Exporting, removing, garbage collection and the cache quota.
@Suite struct ContentStoreManagementTests {
    @Test func exportRefusesToOverwriteAndLeavesNothingBehind() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 200_000, seed: 30)
        let store = try scratch.openStore()
        let id = try StoreTestContent.cache(bytes, in: store)
        let outputs = "\(scratch.path)/outputs"
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
        let destination = try scratch.write([1, 2, 3], name: "outputs/existing")

        let refused = try #require(throws: StoreError.self) { try store.export(contentID: id, to: destination, replacing: false) }
        #expect(refused.code == .exists)
        #expect(refused.message == "\(destination): already exists")
        #expect(try contents(of: destination) == [1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs) == ["existing"])

        try store.export(contentID: id, to: destination, replacing: true)
        #expect(try contents(of: destination) == bytes)
        // Exporting again onto the same file is harmless.
        try store.export(contentID: id, to: destination, replacing: true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs) == ["existing"])

        let unknown = StoreTestContent.describe([9], version: .v1).id
        let missing = try #require(throws: StoreError.self) { try store.export(contentID: unknown, to: "\(outputs)/new", replacing: false) }
        #expect(missing.code == .notFound)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs) == ["existing"])
    }

    /// Whether /dev/shm is another file system than the temporary directory, where the test's
    /// store lives.
    static var sharedMemoryIsAnotherFileSystem: Bool {
        var shm = stat()
        var temporary = stat()
        return stat("/dev/shm", &shm) == 0 && stat(NSTemporaryDirectory(), &temporary) == 0 && shm.st_dev != temporary.st_dev
    }

    /// /dev/shm is another file system than the temporary directory, so the hard link fails and
    /// the export copies.
    @Test(.enabled(if: sharedMemoryIsAnotherFileSystem, "needs /dev/shm on another file system than the temporary directory"))
    func exportCopiesAcrossFileSystems() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 150_000, seed: 31)
        let store = try scratch.openStore()
        let id = try StoreTestContent.cache(bytes, in: store)
        let destination = "/dev/shm/peerdist-export-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: destination) }
        try store.export(contentID: id, to: destination, replacing: false)
        #expect(try contents(of: destination) == bytes)
        var exported = stat()
        #expect(stat(destination, &exported) == 0 && exported.st_nlink == 1)
    }

    @Test func removeDeletesCacheFilesButNeverAPublishedFile() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore()
        let cached = try StoreTestContent.cache(StoreTestContent.random(count: 100_000, seed: 32), in: store)
        let (partialID, partialInformation) = StoreTestContent.describe(StoreTestContent.random(count: 100_000, seed: 33), version: .v2)
        let download = try store.beginDownload(contentID: partialID, information: partialInformation)
        let file = try scratch.write(StoreTestContent.random(count: 100_000, seed: 34), name: "published")
        let published = try store.publish(path: file).contentID
        let segmentID = try #require(store.contentInformation(for: cached)?.segments.first?.segmentID)

        try store.remove(contentID: cached)
        try store.remove(contentID: partialID)
        try store.remove(contentID: published)
        #expect(store.entries().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.cacheDirectory).isEmpty)
        #expect(FileManager.default.fileExists(atPath: file))
        #expect(store.contentInformation(for: cached) == nil)
        #expect(store.locateSegment(id: segmentID) == nil)
        #expect(throws: StoreError(.notFound, "")) { try store.remove(contentID: cached) }
        // The removed download no longer accepts blocks.
        let segment = try #require(partialInformation.segments.first)
        #expect(throws: StoreError(.notFound, "")) {
            try download.write(segment: 0, block: 0, bytes: Array(StoreTestContent.random(count: 100_000, seed: 33)[..<Int(segment.length)]))
        }
    }

    @Test func garbageCollectionRemovesFilesWithoutAnEntry() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore()
        let kept = try StoreTestContent.cache(StoreTestContent.random(count: 100_000, seed: 35), in: store)
        let orphans = [
            "\(StoreTestContent.describe([1], version: .v1).id.hex).data",
            "\(StoreTestContent.describe([2], version: .v1).id.hex).partial",
            "\(kept.hex).bitmap",
            "stray",
            ".\(kept.hex).bitmap.partial-999999999-1",
        ]
        for name in orphans { try scratch.write([0, 1, 2, 3], name: "store/cache/\(name)") }

        let report = store.collectGarbage()
        #expect(report.removedFiles == orphans.map { "\(scratch.cacheDirectory)/\($0)" }.sorted())
        #expect(report.freedBytes == 4 * UInt64(orphans.count))
        #expect(report.evicted.isEmpty)
        #expect(report.cacheBytes == 100_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.cacheDirectory) == ["\(kept.hex).data"])
        #expect(try store.readVerifiedBlock(contentID: kept, segmentIndex: 0, blockIndex: 0) != nil)
    }

    /// Three complete contents, a download holding one block, and a large publication; the quota
    /// fits two contents and the block. Only the least recently used complete content goes.
    @Test func quotaEvictsLeastRecentlyUsedCompleteContentOnly() throws {
        let scratch = try StoreScratch()
        let size = 100_000
        let store = try scratch.openStore(quotaBytes: UInt64(size * 5 / 2 + 65_536))
        let first = try StoreTestContent.cache(StoreTestContent.random(count: size, seed: 36), in: store)
        let second = try StoreTestContent.cache(StoreTestContent.random(count: size, seed: 37), in: store)
        let third = try StoreTestContent.cache(StoreTestContent.random(count: size, seed: 38), in: store)
        let partialBytes = StoreTestContent.random(count: size, seed: 39)
        let (partialID, partialInformation) = StoreTestContent.describe(partialBytes, version: .v1)
        let download = try store.beginDownload(contentID: partialID, information: partialInformation)
        try download.write(segment: 0, block: 0, bytes: Array(partialBytes[..<65_536]))
        let published = try store.publish(path: try scratch.write(StoreTestContent.random(count: 4 * size, seed: 40), name: "big")).contentID
        // Serving a block of the first makes the second the least recently used.
        #expect(try store.readVerifiedBlock(contentID: first, segmentIndex: 0, blockIndex: 0) != nil)

        let report = store.collectGarbage()
        #expect(report.evicted == [second])
        #expect(report.freedBytes == UInt64(size))
        #expect(report.cacheBytes == UInt64(2 * size + 65_536))
        #expect(Set(store.entries().map(\.contentID)) == [first, third, partialID, published])
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.cacheDirectory)/\(second.hex).data"))
        #expect(download.isHeld(segment: 0, block: 0))

        // Under the quota now: nothing more goes.
        #expect(store.collectGarbage().evicted.isEmpty)
    }

    @Test func aDownloadLargerThanTheQuotaIsRefused() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore(quotaBytes: 1000)
        let (id, information) = StoreTestContent.describe(StoreTestContent.random(count: 5000, seed: 41), version: .v1)
        let error = try #require(throws: StoreError.self) { try store.beginDownload(contentID: id, information: information) }
        #expect(error.code == .quotaExceeded)
    }
}
