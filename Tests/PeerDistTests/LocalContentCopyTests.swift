import Foundation
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistStore

/// A content fetched by ID is filled from files already on disk only where their bytes verify:
/// the same size is a hint, never trusted.
@Suite struct LocalContentCopyTests {
    @Test func onlyBlocksThatVerifyAreCopiedAndOthersAreLeftForPeers() throws {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: 3 * 65_536 + 100, seed: 41)
        let (id, information) = StoreTestContent.describe(bytes, version: .v1)
        let store = try scratch.openStore()
        let download = try store.beginDownload(contentID: id, information: information)

        // One file of another size, one of the same size whose second block differs, one link.
        var changed = bytes
        changed[65_536 + 7] ^= 0xFF
        try Data(changed).write(to: URL(fileURLWithPath: "\(scratch.path)/changed"))
        try Data(bytes.prefix(1000)).write(to: URL(fileURLWithPath: "\(scratch.path)/short"))
        try Data(bytes).write(to: URL(fileURLWithPath: "\(scratch.path)/original"))
        try FileManager.default.createSymbolicLink(atPath: "\(scratch.path)/link", withDestinationPath: "\(scratch.path)/original")

        let first = LocalContentCopy.fill(download, information: information, from: ["\(scratch.path)/short", "\(scratch.path)/changed", "\(scratch.path)/link", "\(scratch.path)/missing"])
        #expect(first == UInt64(bytes.count - 65_536), "every block but the changed one")
        #expect(!download.isHeld(segment: 0, block: 1))
        #expect(download.missingBlocks().count == 1)

        let second = LocalContentCopy.fill(download, information: information, from: ["\(scratch.path)/original"])
        #expect(second == 65_536)
        #expect(download.heldBytes == UInt64(bytes.count))
        let path = try download.finish()
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
    }
}
