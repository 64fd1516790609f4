import PeerDistHashing
import PeerDistWire
import Testing
@testable import PeerDist
@testable import PeerDistStore

/// BranchCache clients carry no identity: content shared with an audience is, to them, content
/// the node does not hold.
@Suite struct PublicSegmentsTests {
    private struct Private: AccessRules {
        let id: ContentID
        func audience(ofContent id: ContentID) -> Set<PeerKey>? { id == self.id ? [] : nil }
        func audience(ofMirror discoveryKey: HashValue) -> Set<PeerKey>? { nil }
    }

    @Test func privateContentIsNotServedToBranchCacheClients() throws {
        let (scratch, _, file) = try StoreScratch.withFile(count: 200_000, seed: 6)
        _ = scratch
        let store = try scratch.openStore()
        let published = try store.publish(path: file)
        let segment = try #require(published.information.segments.first)
        let source = StoreContentSource(store: store)

        let open = PublicSegments(base: source, rules: PublicAccess())
        #expect(open.segment(withID: segment.segmentID) != nil)
        #expect(open.heldBlockCount(ofSegment: segment.segmentID) == segment.blockCount)
        #expect(open.verifiedBlock(of: segment, index: 0) != nil)

        let hidden = PublicSegments(base: source, rules: Private(id: published.contentID))
        #expect(hidden.segment(withID: segment.segmentID) == nil)
        #expect(hidden.heldBlockCount(ofSegment: segment.segmentID) == 0)
        #expect(hidden.heldBlocks(of: segment).isEmpty)
        #expect(hidden.verifiedBlock(of: segment, index: 0) == nil)
    }
}
