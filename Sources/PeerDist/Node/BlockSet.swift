/// A set of block numbers `0..<count`, as bits in 64-bit words so that the scheduler can skip
/// 64 blocks at a time and combine sets (what a peer has, what is still open) word by word.
///
/// Its byte form, as availability travels on the wire, puts block `n` in bit `n % 8` of byte
/// `n / 8` (the layout of the store's bitmap file).
struct BlockSet: Hashable, Sendable {
    private(set) var words: [UInt64]
    let count: Int
    /// How many blocks are in the set, kept as bits change so that asking costs nothing.
    private(set) var cardinality: Int

    init(count: Int, filled: Bool = false) {
        self.count = count
        self.words = [UInt64](repeating: filled ? .max : 0, count: (count + 63) / 64)
        self.cardinality = filled ? count : 0
        if filled { clearTail() }
    }

    /// The set a byte bitmap describes; nil when its length does not fit `count` blocks or it
    /// names blocks past the last.
    init?(bytes: [UInt8], count: Int) {
        guard bytes.count == (count + 7) / 8 else { return nil }
        self.count = count
        words = stride(from: 0, to: bytes.count, by: 8).map { start in
            var word: UInt64 = 0
            for (shift, byte) in bytes[start..<min(start + 8, bytes.count)].enumerated() {
                word |= UInt64(byte) << UInt64(8 * shift)
            }
            return word
        }
        cardinality = 0
        let tail = words
        clearTail()
        guard tail == words else { return nil }
        cardinality = words.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words.count * 8)
        for word in words {
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Array(bytes.prefix((count + 7) / 8))
    }

    func contains(_ block: Int) -> Bool {
        words[block >> 6] & (1 << UInt64(block & 63)) != 0
    }

    mutating func insert(_ block: Int) {
        guard !contains(block) else { return }
        words[block >> 6] |= 1 << UInt64(block & 63)
        cardinality += 1
    }

    mutating func remove(_ block: Int) {
        guard contains(block) else { return }
        words[block >> 6] &= ~(1 << UInt64(block & 63))
        cardinality -= 1
    }

    var isEmpty: Bool { cardinality == 0 }
    var isFull: Bool { cardinality == count }

    /// Calls `body` with each block in both `self` and `other` (all of `other` when nil), going
    /// round from `start`, until `body` returns false.
    func forEachCommon(with other: BlockSet?, from start: Int, _ body: (Int) -> Bool) {
        guard !words.isEmpty else { return }
        let startWord = (count == 0 ? 0 : start % count) >> 6
        // The start word is visited twice: its blocks from `start` first, the ones before it last.
        for step in 0...words.count {
            let index = (startWord + step) % words.count
            var word = words[index] & (other?.words[index] ?? .max)
            let startBit = UInt64(start & 63)
            if step == 0 { word &= .max << startBit }
            if step == words.count { word &= startBit == 0 ? 0 : ~(.max << startBit) }
            while word != 0 {
                let bit = word.trailingZeroBitCount
                if !body(index << 6 | bit) { return }
                word &= word - 1
            }
        }
    }

    /// Blocks past `count` in the last word must stay clear, or they would look like blocks.
    private mutating func clearTail() {
        guard count % 64 != 0, !words.isEmpty else { return }
        words[words.count - 1] &= (1 << UInt64(count % 64)) - 1
    }
}
