import Testing
@testable import PeerDistHashing

@Suite struct GearChunkerTests {
    private func boundaries(_ content: [UInt8]) -> [HashedContent.Segment] {
        let hasher = StreamingContentHasher(version: .v2)
        hasher.update(content)
        return hasher.finalize().segments
    }

    @Test func gearTableIsDerivedFromSHA256() {
        // Values computed independently: hashlib.sha256(b"PeerDist gear v1" + bytes([i])).digest()[:8]
        #expect(GearChunker.gear.count == 256)
        #expect(GearChunker.gear[0] == 0x16ca_e287_67e4_6a92)
        #expect(GearChunker.gear[1] == 0x475b_22f2_6e9e_54d3)
        #expect(GearChunker.gear[255] == 0x8c3e_ea20_b7db_2019)
    }

    @Test func segmentsRespectTheSizeLimits() {
        let segments = boundaries(TestContent.random(count: 20 * 1024 * 1024, seed: 11))
        for segment in segments.dropLast() {
            #expect(segment.length >= UInt32(GearChunker.minimumSize))
            #expect(segment.length <= UInt32(GearChunker.maximumSize))
        }
        let average = 20 * 1024 * 1024 / segments.count
        #expect(average > GearChunker.minimumSize && average < GearChunker.maximumSize)
    }

    @Test func uniformContentIsCutAtTheMaximum() {
        let segments = boundaries([UInt8](repeating: 0, count: 1_000_000))
        #expect(segments.dropLast().allSatisfy { $0.length == UInt32(GearChunker.maximumSize) })
    }

    @Test func oneInsertedByteChangesAtMostThreeSegments() {
        let original = TestContent.random(count: 100 * 1024 * 1024, seed: 42)
        var edited = original
        edited.insert(0x5A, at: original.count / 2)
        let before = Set(boundaries(original).map(\.hashOfData))
        let after = boundaries(edited).map(\.hashOfData)
        let changed = after.filter { !before.contains($0) }
        #expect(changed.count >= 1 && changed.count <= 3, "\(changed.count) segments changed")
    }
}
