import PeerDistWire
import Testing

/// Answers sent in parts are put together only in order, under one total, within a limit.
struct PartAssemblyTests {
    @Test func partsInOrderMakeTheWhole() throws {
        var assembly = PartAssembly(of: "test", limit: 10)
        #expect(try assembly.add(total: 6, offset: 0, part: [1, 2]) == .partial)
        #expect(try assembly.add(total: 6, offset: 2, part: [3, 4]) == .partial)
        #expect(try assembly.add(total: 6, offset: 4, part: [5, 6]) == .complete([1, 2, 3, 4, 5, 6]))
    }

    @Test func aTotalOfZeroIsNothingHeld() throws {
        var assembly = PartAssembly(of: "test", limit: 10)
        #expect(try assembly.add(total: 0, offset: 0, part: []) == .notHeld)
    }

    @Test func outOfOrderChangedOrOversizedPartsAreRefused() throws {
        var gap = PartAssembly(of: "test", limit: 10)
        _ = try gap.add(total: 6, offset: 0, part: [1, 2])
        #expect(throws: WireError.self) { try gap.add(total: 6, offset: 3, part: [4]) }

        var changed = PartAssembly(of: "test", limit: 10)
        _ = try changed.add(total: 6, offset: 0, part: [1, 2])
        #expect(throws: WireError.self) { try changed.add(total: 8, offset: 2, part: [3]) }

        var tooLarge = PartAssembly(of: "test", limit: 10)
        let error = try #require(throws: WireError.self) { try tooLarge.add(total: 11, offset: 0, part: [1]) }
        #expect(error.description.contains("test parts"))

        var pastTotal = PartAssembly(of: "test", limit: 10)
        #expect(throws: WireError.self) { try pastTotal.add(total: 2, offset: 0, part: [1, 2, 3]) }

        // A total of zero after parts began is a changed total, not "nothing held".
        var late = PartAssembly(of: "test", limit: 10)
        _ = try late.add(total: 4, offset: 0, part: [1])
        #expect(throws: WireError.self) { try late.add(total: 0, offset: 1, part: []) }
    }
}
