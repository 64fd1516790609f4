import Foundation
import Logging
import NIOCore
import PeerDistHashing
import PeerDistWire
import Testing
@testable import PeerDistBranchCache

/// The hosted cache's side of MS-PCHC: offers answered by what is held, segments kept on disk
/// only block by verified block, and found again after a restart.
@Suite struct HostedCacheTests {
    static let (information, content) = TestSegments.version1
    static var segment: SegmentDescription { information.segments[0] }

    private func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hosted-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func block(_ index: Int) -> [UInt8] {
        let range = Self.segment.blockRange(index)
        return Array(Self.content[Int(range.lowerBound)..<Int(range.upperBound)])
    }

    @Test func offersAreAnsweredByWhatIsHeldAndBlocksAreVerified() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let segments = try HostedSegments(directory: directory)
        let cache = HostedCache(segments: segments, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let offer = PCHCMessage(port: 8080, body: .initialOffer(segmentID: Self.segment.segmentID))
        #expect(cache.answer(ByteBuffer(bytes: offer.encoded()), from: nil) == (.ok, PCHCResponse.interested.encoded()))
        let info = try #require(PCHCMessage.segmentInfo(port: 8080, contentTag: Array(repeating: 0, count: 16), segment: Self.segment, algorithm: .sha256))
        #expect(cache.answer(ByteBuffer(bytes: info.encoded()), from: nil) == (.ok, PCHCResponse.ok.encoded()))
        #expect(cache.answer(ByteBuffer(bytes: [1, 2, 3]), from: nil).0 == .badRequest)

        var wrong = block(0)
        wrong[0] ^= 1
        #expect(try segments.keep(wrong, block: 0, of: Self.segment.segmentID) == false, "a block that does not match its hash is not kept")
        #expect(try segments.keep(block(0), block: 0, of: Self.segment.segmentID))
        #expect(!segments.holdsAll(Self.segment.segmentID))
        #expect(try segments.keep(block(1), block: 1, of: Self.segment.segmentID))
        #expect(segments.holdsAll(Self.segment.segmentID))
        #expect(cache.answer(ByteBuffer(bytes: offer.encoded()), from: nil) == (.ok, PCHCResponse.ok.encoded()))

        // After a restart, from disk; a damaged block file is never served.
        let reopened = try HostedSegments(directory: directory)
        let segment = try #require(reopened.segment(withID: Self.segment.segmentID))
        #expect(reopened.heldBlocks(of: segment) == [BlockRange(index: 0, count: 1), BlockRange(index: 1, count: 1)])
        #expect(reopened.verifiedBlock(of: segment, index: 1) == block(1))
        try Data(wrong).write(to: URL(fileURLWithPath: "\(directory)/\(Self.segment.segmentID.hex)/0"))
        #expect(reopened.verifiedBlock(of: segment, index: 0) == nil)
    }
}
