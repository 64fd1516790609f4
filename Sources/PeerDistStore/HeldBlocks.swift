/// Which blocks of one segment the store can serve, by block index within the segment.
public struct HeldBlocks: Hashable, Sendable {
    public let blockCount: Int
    /// Disjoint runs of held blocks, in order: what a block-list reply advertises.
    public let ranges: [Range<Int>]

    init(_ held: [Bool]) {
        blockCount = held.count
        var ranges: [Range<Int>] = []
        var start: Int?
        for (index, isHeld) in held.enumerated() {
            if isHeld, start == nil { start = index }
            if !isHeld, let first = start {
                ranges.append(first..<index)
                start = nil
            }
        }
        if let first = start { ranges.append(first..<held.count) }
        self.ranges = ranges
    }

    public var heldCount: Int { ranges.reduce(0) { $0 + $1.count } }
    public var isComplete: Bool { heldCount == blockCount }

    public func contains(_ block: Int) -> Bool {
        ranges.contains { $0.contains(block) }
    }
}
