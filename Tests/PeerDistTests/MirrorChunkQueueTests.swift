import PeerDistHashing
import Testing

@testable import PeerDist

@Suite struct MirrorChunkQueueTests {
    static func chunk(_ byte: UInt8, length: UInt32 = 100) -> ChunkReference {
        ChunkReference(hash: HashValue([UInt8](repeating: byte, count: 32)), length: length)
    }

    let a = PeerAddress(host: "::1", port: 1)
    let b = PeerAddress(host: "::1", port: 2)

    @Test func aChunkListedTwiceIsFetchedOnce() {
        let queue = MirrorChunkQueue(missing: [Self.chunk(1), Self.chunk(2), Self.chunk(1)])
        #expect(queue.remaining == 2)
        let batch = queue.take(for: a, count: 10, bytes: 1 << 20)
        #expect(batch == [Self.chunk(1), Self.chunk(2)])
        for chunk in batch { queue.delivered(chunk.hash, by: a) }
        #expect(queue.isComplete)
    }

    @Test func batchesStopAtTheirCountOrBytes() {
        let queue = MirrorChunkQueue(missing: (1...6).map { Self.chunk($0, length: 1000) })
        #expect(queue.take(for: a, count: 2, bytes: 1 << 20).count == 2)
        // The byte limit is reached after the chunk that crosses it.
        #expect(queue.take(for: b, count: 10, bytes: 1500).count == 2)
        #expect(queue.remaining == 6)
    }

    @Test func whatAPeerLacksGoesToAnotherWithItsLength() {
        let queue = MirrorChunkQueue(missing: [Self.chunk(1, length: 7), Self.chunk(2)])
        queue.join(a)
        queue.join(b)
        let first = queue.take(for: a, count: 2, bytes: 1 << 20)
        #expect(first.count == 2)
        queue.lacks(Self.chunk(1).hash, peer: a)
        queue.delivered(Self.chunk(2).hash, by: a)
        // `a` is not offered the chunk again; `b` is, with the length it was listed with.
        #expect(queue.take(for: a, count: 2, bytes: 1 << 20).isEmpty)
        #expect(queue.isExhausted(for: a))
        #expect(!queue.isExhausted(for: b))
        #expect(queue.take(for: b, count: 2, bytes: 1 << 20) == [Self.chunk(1, length: 7)])
        queue.delivered(Self.chunk(1).hash, by: b)
        #expect(queue.isComplete)
    }

    @Test func aPeerThatLeavesGivesBackWhatItHadOutstanding() {
        let queue = MirrorChunkQueue(missing: [Self.chunk(1, length: 5), Self.chunk(2, length: 6)])
        queue.join(a)
        #expect(queue.take(for: a, count: 2, bytes: 1 << 20).count == 2)
        queue.delivered(Self.chunk(1).hash, by: a)
        queue.leave(a)
        #expect(queue.remaining == 1)
        #expect(queue.take(for: b, count: 2, bytes: 1 << 20) == [Self.chunk(2, length: 6)])
        // A late delivery from the peer that left counts for nothing.
        queue.delivered(Self.chunk(2).hash, by: a)
        #expect(queue.remaining == 1)
        queue.delivered(Self.chunk(2).hash, by: b)
        #expect(queue.isComplete)
    }
}
