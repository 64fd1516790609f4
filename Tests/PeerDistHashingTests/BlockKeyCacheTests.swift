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

/// A memo derives a key's value once while it is remembered, holds at most its capacity, and
/// starts afresh when full.
@Suite struct BoundedMemoTests {
    @Test func derivesOnceWhileRememberedAndForgetsAllWhenFull() {
        var memo = BoundedMemo<Int, String>(capacity: 3)
        var derivations = 0
        func value(_ key: Int) -> String {
            memo.value(for: key) { key in
                derivations += 1
                return "value \(key)"
            }
        }
        #expect(value(1) == "value 1" && value(2) == "value 2" && value(1) == "value 1")
        #expect(derivations == 2 && memo.count == 2)
        #expect(value(3) == "value 3" && memo.count == 3 && derivations == 3)
        // Full: a new key empties the memo first, so only it is remembered.
        #expect(value(4) == "value 4" && memo.count == 1 && derivations == 4)
        #expect(memo[1] == nil && memo[4] == "value 4")
        #expect(value(1) == "value 1" && derivations == 5)
        // Remembering a key already held does not empty a full memo.
        memo.remember("other 2", for: 2)
        memo.remember("new 1", for: 1)
        #expect(memo.count == 3 && memo[1] == "new 1" && memo[4] == "value 4")
    }
}
