import Foundation
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistStore

/// Files published in place are served block by block, verified, and never once they change.
@Suite struct ContentStorePublishTests {
    @Test(arguments: ContentInformationVersion.allCases)
    func publishedBlocksReadBackVerified(version: ContentInformationVersion) throws {
        let (scratch, bytes, file) = try StoreScratch.withFile(count: 300_000, seed: 1)
        let expected = StoreTestContent.describe(bytes, version: version)

        let store = try scratch.openStore()
        let published = try store.publish(path: file, version: version)
        #expect(published.contentID == expected.id)
        #expect(published.information == expected.information)
        #expect(published.size == UInt64(bytes.count))
        #expect(published.version == version)
        #expect(!published.isStale)
        #expect(store.contentInformation(for: expected.id) == expected.information)

        for segment in expected.information.segments {
            let located = try #require(store.locateSegment(id: segment.segmentID))
            #expect(located.contentID == expected.id)
            #expect(located.segmentIndex == segment.index)
            #expect(store.blocksHeld(contentID: expected.id, segmentIndex: segment.index)?.isComplete == true)
        }
        for (segment, block, range) in StoreTestContent.blocks(of: expected.information) {
            let read = try store.readVerifiedBlock(contentID: expected.id, segmentIndex: segment, blockIndex: block)
            #expect(read == Array(bytes[range]), "segment \(segment) block \(block)")
        }
        #expect(try store.readVerifiedBlock(contentID: expected.id, segmentIndex: 99, blockIndex: 0) == nil)

        // The file is served from where it lies: nothing was copied into the cache.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.cacheDirectory).isEmpty)
        let entry = try #require(store.entries().first)
        #expect(entry.kind == .published && entry.isComplete && entry.path == published.path)
        #expect(entry.heldBytes == UInt64(bytes.count))
    }

    @Test func publicationsSurviveReopening() throws {
        let (scratch, bytes, file) = try StoreScratch.withFile(count: 200_000, seed: 2)
        let id: ContentID
        do {
            let store = try scratch.openStore()
            id = try store.publish(path: file).contentID
            // Publishing again replaces the record rather than adding one.
            try store.publish(path: file)
            #expect(store.published().count == 1)
        }
        let reopened = try scratch.openStore()
        #expect(reopened.published().map(\.contentID) == [id])
        let segment = try #require(reopened.contentInformation(for: id)?.segments.first)
        #expect(reopened.locateSegment(id: segment.segmentID)?.contentID == id)
        #expect(try reopened.readVerifiedBlock(contentID: id, segmentIndex: 0, blockIndex: 3) == Array(bytes[(3 * 65_536)...]))

        #expect(try reopened.unpublish(id: id) == 1)
        #expect(reopened.published().isEmpty)
        #expect(reopened.locateSegment(id: segment.segmentID) == nil)
        #expect(FileManager.default.fileExists(atPath: file), "unpublishing never touches the user's file")
    }

    /// Same size, same modification time, same inode: only the blocks' hashes can tell.
    @Test func aFileChangedInPlaceIsStaleAndNotServed() throws {
        let (scratch, _, file) = try StoreScratch.withFile(count: 300_000, seed: 3)
        let id: ContentID
        do {
            let store = try scratch.openStore()
            id = try store.publish(path: file).contentID

            var status = stat()
            #expect(stat(file, &status) == 0)
            let handle = try #require(FileHandle(forWritingAtPath: file))
            try handle.seek(toOffset: 70_000)
            try handle.write(contentsOf: Data([0xFF, 0xFE, 0xFD]))
            try handle.close()
            var times = [status.st_atim, status.st_mtim]
            #expect(utimensat(AT_FDCWD, file, &times, 0) == 0)

            #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: 0, blockIndex: 1) == nil)
            #expect(store.published().first?.isStale == true)
            #expect(store.entries().first?.isStale == true)
            // Once stale, even unchanged blocks are not served, and the content is no longer offered.
            #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: 0, blockIndex: 0) == nil)
            #expect(store.contentInformation(for: id) == nil)
        }

        // Stale survives reopening; publishing again serves the new bytes under their own ID.
        let reopened = try scratch.openStore()
        #expect(reopened.published().first?.isStale == true)
        let republished = try reopened.publish(path: file)
        #expect(republished.contentID != id && !republished.isStale)
        #expect(reopened.published().count == 1)
        #expect(reopened.contentInformation(for: id) == nil)
        let changed = try contents(of: file)
        #expect(try reopened.readVerifiedBlock(contentID: republished.contentID, segmentIndex: 0, blockIndex: 1) == Array(changed[65_536..<131_072]))
    }

    @Test func aFileThatChangedSizeIsStale() throws {
        let (scratch, _, file) = try StoreScratch.withFile(count: 300_000, seed: 4)
        let store = try scratch.openStore()
        let id = try store.publish(path: file).contentID

        let handle = try #require(FileHandle(forWritingAtPath: file))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([1, 2, 3]))
        try handle.close()

        #expect(store.blocksHeld(contentID: id, segmentIndex: 0)?.heldCount == 0)
        #expect(store.published().first?.isStale == true)
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: 0, blockIndex: 0) == nil)
    }

    @Test func aRemovedFileIsStale() throws {
        let scratch = try StoreScratch()
        let file = try scratch.write(StoreTestContent.random(count: 100_000, seed: 5), name: "published")
        let store = try scratch.openStore()
        let id = try store.publish(path: file).contentID
        try FileManager.default.removeItem(atPath: file)
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: 0, blockIndex: 0) == nil)
        #expect(store.published().first?.isStale == true)
    }

    @Test func publishingWhatIsNotAFileFails() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore()
        let missing = try #require(throws: StoreError.self) { try store.publish(path: "\(scratch.path)/missing") }
        #expect(missing.code == .notFound)
        #expect(missing.message.hasPrefix("\(scratch.path)/missing"))
        let directory = try #require(throws: StoreError.self) { try store.publish(path: scratch.path) }
        #expect(directory.message.hasSuffix("not a regular file"))
    }
}
