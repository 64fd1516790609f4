/// The full-size blocks of a `ChunkSignature` by weak checksum, for `ChunkDelta.make`: a hash
/// table of chains kept as block indices, so a lookup at each byte of a chunk costs a multiply
/// and, usually, one empty bucket. A block repeating an earlier one (both checksums equal) is
/// left out: it could only match where the earlier one does.
///
/// The signature comes from a peer, so chains can be long (every block given one weak
/// checksum); the caller bounds how often a weak hit may fail its strong check.
struct BlockLookup {
    enum Match {
        case block(Int)
        /// No block has this weak checksum.
        case none
        /// Some did, but none has the window's strong checksum: a hash of the window was spent.
        case falseMatch
    }

    let signature: ChunkSignature
    /// Blocks of exactly `blockSize` bytes: all but a shorter last one.
    let fullBlockCount: Int
    private let heads: [Int32]
    private let next: [Int32]
    private let shift: UInt32

    init(_ signature: ChunkSignature) {
        self.signature = signature
        fullBlockCount = signature.baseLength / signature.blockSize
        // Four buckets a block: most offsets of a chunk find an empty one.
        var bits: UInt32 = 4
        while 1 << bits < 4 * fullBlockCount { bits += 1 }
        shift = 32 - bits
        var heads = [Int32](repeating: -1, count: 1 << bits)
        var next = [Int32](repeating: -1, count: fullBlockCount)
        for index in 0..<fullBlockCount {
            let bucket = Self.bucket(signature.weak[index], shift: shift)
            var other = heads[bucket]
            var repeated = false
            while other >= 0, !repeated {
                repeated = signature.weak[Int(other)] == signature.weak[index] && signature.strong[Int(other)] == signature.strong[index]
                other = next[Int(other)]
            }
            if repeated { continue }
            next[index] = heads[bucket]
            heads[bucket] = Int32(index)
        }
        self.heads = heads
        self.next = next
    }

    private static func bucket(_ weak: UInt32, shift: UInt32) -> Int {
        // Fibonacci hashing: rsync's weak checksum is far from uniform in its low bits.
        Int((weak &* 0x9E37_79B1) >> shift)
    }

    /// Whether some block has this weak checksum: the quick test made at every offset of a
    /// chunk, which mostly finds an empty bucket; `match` then confirms with the strong checksum.
    @inline(__always)
    func hasWeak(_ weak: UInt32, preferring preferred: Int) -> Bool {
        if preferred < fullBlockCount, signature.weak[preferred] == weak { return true }
        var candidate = heads[Self.bucket(weak, shift: shift)]
        while candidate >= 0 {
            if signature.weak[Int(candidate)] == weak { return true }
            candidate = next[Int(candidate)]
        }
        return false
    }

    /// The block whose checksums are those of `window` (`blockSize` bytes, weak checksum `weak`),
    /// trying `preferred` first so that runs of equal blocks copy as one run.
    func match(_ weak: UInt32, window: UnsafeRawBufferPointer, preferring preferred: Int) -> Match {
        var strong: UInt64?
        func windowStrong() -> UInt64 {
            if let strong { return strong }
            let value = ChunkSignature.strongChecksum(window)
            strong = value
            return value
        }
        if preferred < fullBlockCount, signature.weak[preferred] == weak, signature.strong[preferred] == windowStrong() {
            return .block(preferred)
        }
        var candidate = heads[Self.bucket(weak, shift: shift)]
        while candidate >= 0 {
            let index = Int(candidate)
            if signature.weak[index] == weak, signature.strong[index] == windowStrong() { return .block(index) }
            candidate = next[index]
        }
        return strong == nil ? .none : .falseMatch
    }
}
