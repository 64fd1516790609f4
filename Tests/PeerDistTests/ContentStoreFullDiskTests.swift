import Foundation
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistStore

/// A full disk is reported as `.noSpace`, leaves no partial file at an export destination, and
/// never damages the index. Needs root, to mount a 256 KiB tmpfs.
@Suite(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct ContentStoreFullDiskTests {
    /// Runs `body` with a fresh 256 KiB tmpfs mounted at a directory in `scratch`; false when it
    /// cannot be mounted here.
    private func withTinyFileSystem(in scratch: StoreScratch, _ body: (String) throws -> Void) throws -> Bool {
        guard FileManager.default.fileExists(atPath: "/bin/mount") else { return false }
        let mountPoint = "\(scratch.path)/tiny"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        guard (try? StoreSubprocess.run("/bin/mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint)) == 0 else { return false }
        defer { _ = try? StoreSubprocess.run("/bin/umount", mountPoint) }
        try body(mountPoint)
        return true
    }

    @Test func exportOntoAFullDiskFailsWithNoSpaceAndLeavesNothing() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 400_000, seed: 50)
        let store = try scratch.openStore()
        let id = try StoreTestContent.cache(bytes, in: store)
        _ = try withTinyFileSystem(in: scratch) { tiny in
            let destination = "\(tiny)/exported"
            let error = try #require(throws: StoreError.self) { try store.export(contentID: id, to: destination, replacing: false) }
            #expect(error.code == .noSpace)
            #expect(error.errno == ENOSPC)
            #expect(error.message == "\(destination): no space left on device")
            #expect(try FileManager.default.contentsOfDirectory(atPath: tiny).isEmpty)
        }
        // The store is unharmed.
        #expect(store.entries().map(\.isComplete) == [true])
    }

    @Test func aDownloadOntoAFullDiskFailsWithNoSpaceAndTheIndexSurvives() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 400_000, seed: 51)
        let (id, information) = StoreTestContent.describe(bytes, version: .v1)
        _ = try withTinyFileSystem(in: scratch) { tiny in
            let directory = "\(tiny)/store"
            var written = 0
            do {
                let store = try ContentStore(directory: directory, quotaBytes: nil, flushInterval: 64 * 1024)
                let download = try store.beginDownload(contentID: id, information: information)
                let error = try #require(throws: StoreError.self) {
                    for (segment, block, range) in StoreTestContent.blocks(of: information) {
                        try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
                        written += 1
                    }
                }
                #expect(error.code == .noSpace)
                #expect(error.message.hasSuffix(": no space left on device"))
                #expect(written > 0)
                // The index still takes records once space is freed.
                try store.remove(contentID: id)
                try store.flushDownloads()
            }
            let reopened = try ContentStore(directory: directory, quotaBytes: nil)
            #expect(reopened.discardedLogBytes == 0)
            #expect(reopened.entries().isEmpty)
        }
    }
}
