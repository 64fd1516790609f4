/// SplitMix64: a small, fast generator whose output depends on its seed alone, on every machine
/// and every Swift version (the standard library's `random(in:using:)` promises no particular
/// algorithm, so ranges are drawn here too). Not for secrets; for benchmark trees that must come
/// out the same in every run.
struct PseudoRandom {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    /// A generator for one purpose (`stream`) and one item (`index`) of the tree made from `seed`:
    /// independent of how much any other generator has drawn.
    init(seed: UInt64, stream: UInt64, index: UInt64 = 0) {
        state = Self.mix(seed ^ Self.mix(stream &* 0x9E37_79B9_7F4A_7C15 ^ Self.mix(index)))
    }

    /// A seed for one item of one purpose, as `init(seed:stream:index:)` would start from.
    static func seed(_ seed: UInt64, stream: UInt64, index: UInt64) -> UInt64 {
        var random = PseudoRandom(seed: seed, stream: stream, index: index)
        return random.next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in `0..<bound` (multiply-high; the bias is below 2⁻³² for the bounds used here).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(UInt64(bound).multipliedFullWidth(by: next()).high)
    }

    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.count)
    }

    /// True with probability `percent` / 100.
    mutating func chance(_ percent: Int) -> Bool {
        below(100) < percent
    }

    /// Fills `buffer` with the next bytes of this generator's stream, eight per draw, little-endian;
    /// a stream cut into pieces whose lengths are multiples of 8 reads the same as in one piece.
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        let words = buffer.count / 8
        var offset = 0
        for _ in 0..<words {
            buffer.storeBytes(of: next().littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        if offset < buffer.count {
            let last = next().littleEndian
            withUnsafeBytes(of: last) { bytes in
                for index in 0..<(buffer.count - offset) { buffer[offset + index] = bytes[index] }
            }
        }
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
