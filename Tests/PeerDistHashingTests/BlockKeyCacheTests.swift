import PeerDistHashing
import Testing

/// A cached block key is the one `SegmentKeys` derives, for every segment, before and after the
/// cache fills and empties.
@Suite struct BlockKeyCacheTests {
    private func secret(_ number: Int) -> HashValue {
        HashAlgorithm.sha256.digest(Array("segment \(number)".utf8))
    }

    @Test func everyKeyIsTheDerivedOneAcrossRefills() {
        let cache = BlockKeyCache()
        let count = BlockKeyCache.capacity * 2 + 3
        for round in 0..<2 {
            for number in 0..<count {
                let key = cache.blockKey(segmentSecret: secret(number))
                #expect(key == SegmentKeys.blockKey(segmentSecret: secret(number)), "segment \(number), round \(round)")
            }
        }
        // Asked again at once, a segment's key is the same.
        #expect(cache.blockKey(segmentSecret: secret(7)) == cache.blockKey(segmentSecret: secret(7)))
        #expect(cache.blockKey(segmentSecret: secret(7)) != cache.blockKey(segmentSecret: secret(8)))
    }
}
