import Foundation
import PeerDistHashing
import Synchronization
import Testing
@testable import PeerDist
@testable import PeerDistStore

/// Downloads into the cache: verified blocks in any order, served while partial, resumable after
/// a kill, finished into a file that exports byte for byte.
@Suite struct ContentStoreDownloadTests {
    /// Two version 1 segments (32 MiB and 1 MiB + 5 bytes), so block numbering crosses a segment.
    @Test func blocksInRandomOrderFinishAndExportIdentically() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 33 * 1024 * 1024 + 5, seed: 10)
        let (id, information) = StoreTestContent.describe(bytes, version: .v1)
        #expect(information.segmentCount == 2)
        let store = try scratch.openStore()
        let download = try store.beginDownload(contentID: id, information: information)
        #expect(download.totalBytes == UInt64(bytes.count))
        #expect(download.heldBytes == 0)

        var generator = SeededGenerator(seed: 11)
        let blocks = StoreTestContent.blocks(of: information).shuffled(using: &generator)
        for (segment, block, range) in blocks {
            #expect(!download.isHeld(segment: segment, block: block))
            try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
            #expect(download.isHeld(segment: segment, block: block))
        }
        #expect(download.heldBytes == UInt64(bytes.count))
        #expect(download.missingBlocks().isEmpty)

        let path = try download.finish()
        #expect(path == "\(scratch.cacheDirectory)/\(id.hex).data")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.cacheDirectory) == ["\(id.hex).data"])
        let entry = try #require(store.entries().first)
        #expect(entry.kind == .cached && entry.isComplete && entry.heldBytes == UInt64(bytes.count))
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: 1, blockIndex: 16) == Array(bytes[(33 * 1024 * 1024)...]))

        let destination = "\(scratch.path)/exported"
        try store.export(contentID: id, to: destination, replacing: false)
        #expect(try contents(of: destination) == bytes)
    }

    @Test func aBlockThatFailsItsHashIsNeitherWrittenNorServed() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 300_000, seed: 12)
        let (id, information) = StoreTestContent.describe(bytes, version: .v1)
        let store = try scratch.openStore()
        let download = try store.beginDownload(contentID: id, information: information)

        var forged = Array(bytes[65_536..<131_072])
        forged[100] ^= 1
        let wrong = try #require(throws: StoreError.self) { try download.write(segment: 0, block: 1, bytes: forged) }
        #expect(wrong.code == .corruptBlock)
        #expect(wrong.message.contains("segment 0 block 1"))
        let short = try #require(throws: StoreError.self) { try download.write(segment: 0, block: 2, bytes: Array(bytes[0..<100])) }
        #expect(short.code == .corruptBlock)
        #expect(short.message.contains("100 bytes, not 65536"))
        let outside = try #require(throws: StoreError.self) { try download.write(segment: 0, block: 9, bytes: []) }
        #expect(outside.code == .invalidArgument)

        #expect(!download.isHeld(segment: 0, block: 1))
        #expect(download.heldBytes == 0)
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: 0, blockIndex: 1) == nil)
        // Nothing reached the file: it is still all zeros where the block would go.
        let partial = try contents(of: "\(scratch.cacheDirectory)/\(id.hex).partial")
        #expect(partial.count == bytes.count)
        #expect(partial.allSatisfy { $0 == 0 })
        #expect(throws: StoreError(.incomplete, "")) { try download.finish() }
    }

    @Test func informationForOtherContentIsRefused() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore()
        let wanted = StoreTestContent.describe(StoreTestContent.random(count: 1000, seed: 13), version: .v2)
        let other = StoreTestContent.describe(StoreTestContent.random(count: 1000, seed: 14), version: .v2)
        let refused = try #require(throws: StoreError.self) { try store.beginDownload(contentID: wanted.id, information: other.information) }
        #expect(refused.code == .invalidInformation)
        #expect(store.entries().isEmpty)
    }

    /// A fetch killed half way: what was flushed is held after reopening, what was not is fetched again.
    @Test(arguments: ContentInformationVersion.allCases)
    func aKilledDownloadResumesFromItsBitmap(version: ContentInformationVersion) throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 400_000, seed: 15)
        let (id, information) = StoreTestContent.describe(bytes, version: version)
        let blocks = StoreTestContent.blocks(of: information)
        #expect(blocks.count >= 4)
        let half = blocks.count / 2

        do {
            let store = try scratch.openStore()
            let download = try store.beginDownload(contentID: id, information: information)
            for (segment, block, range) in blocks[..<half] {
                try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
            }
            try download.flush()
            // Written after the last flush: lost with the process, since the bitmap never runs ahead.
            let (segment, block, range) = blocks[half]
            try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
        }

        let store = try scratch.openStore()
        let entry = try #require(store.entries().first)
        #expect(entry.kind == .cached && !entry.isComplete)
        let flushedBytes = blocks[..<half].reduce(0) { $0 + $1.range.count }
        #expect(entry.heldBytes == UInt64(flushedBytes))
        // Held blocks of a partial download are served.
        let first = blocks[0]
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: first.segment, blockIndex: first.block) == Array(bytes[first.range]))
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: blocks[half].segment, blockIndex: blocks[half].block) == nil)

        let download = try store.beginDownload(contentID: id, information: information)
        for (index, (segment, block, _)) in blocks.enumerated() {
            #expect(download.isHeld(segment: segment, block: block) == (index < half), "segment \(segment) block \(block)")
        }
        #expect(download.missingBlocks().count == blocks.count - half)
        for (segment, block) in download.missingBlocks() {
            let range = try #require(blocks.first { $0.segment == segment && $0.block == block }).range
            try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
        }
        let path = try download.finish()
        #expect(try contents(of: path) == bytes)
        #expect(store.entries().first?.isComplete == true)
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.cacheDirectory)/\(id.hex).bitmap"))
        // A later download of complete content holds everything and finishes at once.
        #expect(try store.beginDownload(contentID: id, information: information).finish() == path)
    }

    @Test func aFinishedDownloadSurvivesReopening() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 150_000, seed: 16)
        let id = try StoreTestContent.cache(bytes, in: try scratch.openStore(), version: .v2)
        let store = try scratch.openStore()
        #expect(store.entries().map(\.isComplete) == [true])
        let information = try #require(store.contentInformation(for: id))
        let segment = try #require(information.segments.last)
        #expect(store.locateSegment(id: segment.segmentID)?.segmentIndex == segment.index)
        let range = Int(segment.offset)..<Int(segment.offset) + Int(segment.length)
        #expect(try store.readVerifiedBlock(contentID: id, segmentIndex: segment.index, blockIndex: 0) == Array(bytes[range]))
    }

    /// Writers on many threads, readers serving blocks as they arrive.
    @Test func concurrentWritersAndReaders() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 40 * 65_536 + 77, seed: 17)
        let (id, information) = StoreTestContent.describe(bytes, version: .v1)
        let store = try ContentStore(directory: scratch.storeDirectory, quotaBytes: nil, flushInterval: 256 * 1024)
        let download = try store.beginDownload(contentID: id, information: information)
        let blocks = StoreTestContent.blocks(of: information)
        let failures = Mutex(0)
        // Every block twice (as an endgame would), at once: each is written and counted once.
        DispatchQueue.concurrentPerform(iterations: 2 * blocks.count) { index in
            let (segment, block, range) = blocks[index % blocks.count]
            do {
                try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
                let earlier = blocks[index % blocks.count / 2]
                let read = try store.readVerifiedBlock(contentID: id, segmentIndex: earlier.segment, blockIndex: earlier.block)
                if let read, read != Array(bytes[earlier.range]) { failures.withLock { $0 += 1 } }
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect(download.heldBytes == UInt64(bytes.count))
        #expect(try contents(of: try download.finish()) == bytes)
    }
}
