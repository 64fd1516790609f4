import Crypto

/// Content-defined chunking for Content Information version 2: finds segment boundaries from the
/// bytes themselves, so an insertion or deletion moves only the boundaries next to it.
///
/// A gear hash (`h = h << 1 + G[byte]`) rolls over the bytes; a boundary falls where its top bits are
/// all zero. Sizes are normalised as in FastCDC (Xia et al., 2016): no boundary before
/// `minimumSize` (those bytes are skipped, not hashed), a strict 18-bit test up to `normalSize`, a
/// loose 14-bit test after it, and a forced boundary at `maximumSize`, the largest segment
/// MS-PCCRC allows. On random data segments average about 75 KiB.
///
/// The gear table `G` is not random state but derived: `G[i]` is the first 8 bytes, big-endian, of
/// `SHA-256("PeerDist gear v1" ‖ i)` for the byte `i`, so any implementation can rebuild it and
/// every PeerDist node cuts identical content identically.
public struct GearChunker: Sendable {
    public static let minimumSize = 32 * 1024
    public static let normalSize = 64 * 1024
    public static let maximumSize = ContentInformationV2.maximumSegmentSize

    static let strictMask: UInt64 = ~0 << (64 - 18)
    static let looseMask: UInt64 = ~0 << (64 - 14)

    static let gear: [UInt64] = (0...255).map { byte in
        let digest = SHA256.hash(data: Array("PeerDist gear v1".utf8) + [UInt8(byte)])
        return digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Bytes of the current segment scanned so far.
    private var length = 0
    private var hash: UInt64 = 0

    public init() {}

    /// Scans `bytes`, the continuation of the current segment.
    ///
    /// Returns how many leading bytes belong to the current segment and whether the segment ends
    /// after them; when it does, the chunker is ready for the next segment and the caller scans
    /// the rest of `bytes` again.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, isBoundary: Bool) {
        let count = bytes.count
        var index = min(count, max(0, Self.minimumSize - length))
        length += index
        guard length >= Self.minimumSize, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return (index, false)
        }
        var hash = self.hash
        let found: Bool = Self.gear.withUnsafeBufferPointer { gear in
            for (limit, mask) in [(Self.normalSize, Self.strictMask), (Self.maximumSize, Self.looseMask)] {
                let end = min(count, index + max(0, limit - length))
                let start = index
                while index < end {
                    hash = (hash << 1) &+ gear[Int(base[index])]
                    index += 1
                    if hash & mask == 0 {
                        length += index - start
                        return true
                    }
                }
                length += end - start
            }
            return length == Self.maximumSize
        }
        if found {
            self.length = 0
            self.hash = 0
        } else {
            self.hash = hash
        }
        return (index, found)
    }

    /// Whether bytes have been scanned since the last boundary.
    public var hasPendingBytes: Bool { length > 0 }
}
