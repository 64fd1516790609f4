import Crypto
import Foundation
import Logging
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistMirror
@testable import PeerDistStore

#if canImport(Glibc)
import Glibc
#endif

/// Files held as content (published in place, or fetched and complete) cut into mirror chunks
/// once, their lists kept, and every chunk checked before a fetch uses it.
@Suite struct ContentChunkCatalogTests {
    @Test func aFileIsCutAsTheScannerCutsItAndItsListRoundTrips() throws {
        let scratch = try StoreScratch()
        let tree = try scratch.directory("tree")
        let bytes = StoreTestContent.random(count: 700_000, seed: 41)
        let file = try scratch.write(bytes, name: "tree/file.bin")
        let scanned = try #require(try TreeScanner(root: tree, threads: 1).scan().entries.first { $0.path == "file.bin" })

        let list = try FileChunkList.cut(path: file)
        #expect(list.length == 700_000 && list.chunks == scanned.chunks && list.chunks.count > 3)
        #expect(try FileChunkList(decoding: list.encoded()) == list)
        #expect(try FileChunkList(decoding: FileChunkList(length: 0, chunks: []).encoded()).chunks.isEmpty)

        // Lengths that do not add up, an empty or oversized chunk, and trailing bytes are refused.
        let refused = [
            FileChunkList(length: list.length + 1, chunks: list.chunks).encoded(),
            FileChunkList(length: 0, chunks: [ChunkReference(hash: list.chunks[0].hash, length: 0)]).encoded(),
            FileChunkList(length: 1 << 20, chunks: [ChunkReference(hash: list.chunks[0].hash, length: 1 << 20)]).encoded(),
            list.encoded() + [0],
            Array(list.encoded().dropLast()),
            Array("PDSC".utf8) + list.encoded().dropFirst(4),
        ]
        for encoded in refused {
            let error = try #require(throws: MirrorError.self) { try FileChunkList(decoding: encoded) }
            #expect(error.code == .corrupt, "\(error)")
        }
        #expect(throws: MirrorError.self) { try FileChunkList.cut(path: tree) }
        #expect(throws: MirrorError.self) { try FileChunkList.cut(path: "relative/path") }
    }

    @Test func publishedAndFetchedFilesAreIndexedOnceAndTheirListsKept() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore()
        let publishedBytes = StoreTestContent.random(count: 900_000, seed: 42)
        let published = try store.publish(path: try scratch.write(publishedBytes, name: "published"), version: .v2)
        // A second content, fetched into the cache block by block.
        let fetchedBytes = StoreTestContent.random(count: 300_000, seed: 43)
        let (fetchedID, information) = StoreTestContent.describe(fetchedBytes, version: .v1)
        let download = try store.beginDownload(contentID: fetchedID, information: information)
        for (segment, block, range) in StoreTestContent.blocks(of: information) {
            try download.write(segment: segment, block: block, bytes: Array(fetchedBytes[range]))
        }
        _ = try download.finish()

        let catalog = try ContentChunkCatalog(store: store, dataDirectory: DataDirectory(path: scratch.path), logger: Logger(label: "test"))
        let index = catalog.update()
        // Version 2 segments end where mirror chunks do; only their names differ (SHA-512, SHA-256).
        let publishedList = try FileChunkList(decoding: contents(of: "\(scratch.path)/content-chunks/\(published.contentID.hex)"))
        #expect(published.information.segments.map(\.length) == publishedList.chunks.map(\.length))
        for (id, bytes) in [(published.contentID, publishedBytes), (fetchedID, fetchedBytes)] {
            let list = try FileChunkList(decoding: contents(of: "\(scratch.path)/content-chunks/\(id.hex)"))
            #expect(list.length == UInt64(bytes.count))
            var offset = 0
            for chunk in list.chunks {
                #expect(index.read(chunk) == Array(bytes[offset..<offset + Int(chunk.length)]))
                offset += Int(chunk.length)
            }
        }

        // After a restart the kept list is read, not the file: a list that names other chunks
        // is believed, and yields nothing, since no chunk read is handed out unchecked.
        let real = try FileChunkList.cut(path: published.path)
        let forged = FileChunkList(length: real.length, chunks: real.chunks.map { ChunkReference(hash: HashValue(SHA256.hash(data: $0.hash.bytes)), length: $0.length) })
        try Data(forged.encoded()).write(to: URL(fileURLWithPath: "\(scratch.path)/content-chunks/\(published.contentID.hex)"))
        let restarted = try ContentChunkCatalog(store: store, dataDirectory: DataDirectory(path: scratch.path), logger: Logger(label: "test")).update()
        #expect(restarted.chunkCount == forged.chunks.count + Set(try FileChunkList.cut(path: "\(scratch.cacheDirectory)/\(fetchedID.hex).data").chunks).count)
        #expect(forged.chunks.allSatisfy { restarted.read($0) == nil })
        #expect(real.chunks.allSatisfy { !restarted.contains($0.hash) })

        // Content the store drops is forgotten, and so is its list.
        try store.remove(contentID: fetchedID)
        #expect(catalog.update().chunkCount == real.chunks.count)
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/content-chunks/\(fetchedID.hex)"))
    }

    /// A fetch does not read every file held as content before it starts: it cuts those that may
    /// be one of its files whole, and leaves the rest to the background.
    @Test func aFetchCutsOnlyFilesOfTheSizesItNeeds() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore()
        let wanted = try store.publish(path: try scratch.write(StoreTestContent.random(count: 200_000, seed: 46), name: "wanted"))
        let other = try store.publish(path: try scratch.write(StoreTestContent.random(count: 300_000, seed: 47), name: "other"))
        let catalog = try ContentChunkCatalog(store: store, dataDirectory: DataDirectory(path: scratch.path), logger: Logger(label: "test"))
        let lists = "\(scratch.path)/content-chunks"

        let index = catalog.update(cutting: .ofSizes([200_000, 5]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: lists) == [wanted.contentID.hex])
        #expect(index.chunkCount == (try FileChunkList.cut(path: wanted.path)).chunks.count)
        _ = catalog.update(cutting: .all)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: lists)) == [wanted.contentID.hex, other.contentID.hex])
        #expect(index.chunkCount == (try FileChunkList.cut(path: wanted.path)).chunks.count + (try FileChunkList.cut(path: other.path)).chunks.count)

        // A damaged list is dropped, and the file cut again like one never cut.
        let damaged = "\(lists)/\(wanted.contentID.hex)"
        try Data("PDCL damaged".utf8).write(to: URL(fileURLWithPath: damaged))
        let restarted = try ContentChunkCatalog(store: store, dataDirectory: DataDirectory(path: scratch.path), logger: Logger(label: "test"))
        #expect(restarted.update(cutting: .ofSizes([])).chunkCount == (try FileChunkList.cut(path: other.path)).chunks.count)
        #expect(!FileManager.default.fileExists(atPath: damaged))
        _ = restarted.update(cutting: .all)
        #expect(try FileChunkList(decoding: contents(of: damaged)) == (try FileChunkList.cut(path: wanted.path)))
    }

    /// The worst case: a published file rewritten in the middle with its size, inode and
    /// modification time kept, so the store still takes it for what it published.
    @Test func aFileChangedAfterPublishingYieldsNoWrongChunk() throws {
        let scratch = try StoreScratch()
        let store = try scratch.openStore()
        let bytes = StoreTestContent.random(count: 2_000_000, seed: 44)
        let path = try scratch.write(bytes, name: "published")
        _ = try store.publish(path: path, version: .v1)
        let catalog = try ContentChunkCatalog(store: store, dataDirectory: DataDirectory(path: scratch.path), logger: Logger(label: "test"))
        let list = try FileChunkList.cut(path: path)
        #expect(catalog.update().chunkCount == list.chunks.count)

        var before = stat()
        #expect(stat(path, &before) == 0)
        let changed = 900_000..<1_100_000
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(changed.lowerBound))
        try handle.write(contentsOf: Data(StoreTestContent.random(count: changed.count, seed: 45)))
        try handle.close()
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        #expect(store.wholeFiles().count == 1, "the store no longer takes the file for what it published")

        let index = catalog.update()
        var offset = 0
        var refused = 0
        for chunk in list.chunks {
            let range = offset..<offset + Int(chunk.length)
            if let read = index.read(chunk) {
                #expect(read == Array(bytes[range]))
                #expect(!range.overlaps(changed))
            } else {
                #expect(range.overlaps(changed))
                refused += 1
            }
            offset += Int(chunk.length)
        }
        #expect(refused >= 2)
    }
}
