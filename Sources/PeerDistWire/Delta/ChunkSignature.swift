import Crypto
import PeerDistHashing

/// What a follower tells a server about a chunk it holds (the base) so that the server can send
/// a new chunk as a `ChunkDelta` against it: the base cut into fixed blocks (the last may be
/// shorter), each with a rolling weak checksum, which finds the block at any offset of the new
/// chunk in one pass, and the first 8 bytes of its SHA-256, which confirms a weak match.
///
/// The server does not hold the old chunk (it may never have had it, or no longer has), so the
/// follower describes it, as rsync's receiver does; 12 bytes per KiB of base.
///
/// Encoded, big-endian: `block size(2) base length(4)` then `weak(4) strong(8)` per block, the
/// block count following from the two lengths. Decoding accepts only sizes this type can
/// make: blocks of 256 B to 16 KiB, a base of at most 128 KiB, and exactly the bytes that needs.
public struct ChunkSignature: Hashable, Sendable {
    /// Balances the signature (12 bytes a block) against the literal a small edit costs (about
    /// one block): for a 64 KiB chunk, 768 bytes up and about 1 KiB down.
    public static let defaultBlockSize = 1024
    public static let blockSizes = 256...16384
    /// The largest chunk the gear chunker cuts.
    public static let maximumBaseLength = ContentInformationV2.maximumSegmentSize
    static let headerBytes = 2 + 4
    static let bytesPerBlock = 4 + 8
    /// Blocks of the largest base in the smallest blocks: bounds block indices in a delta.
    public static let maximumBlockCount = maximumBaseLength / blockSizes.lowerBound
    public static let maximumEncodedBytes = headerBytes + bytesPerBlock * maximumBlockCount

    public let blockSize: Int
    public let baseLength: Int
    /// Per block: `RollingChecksum` of its bytes.
    public let weak: [UInt32]
    /// Per block: the first 8 bytes of its SHA-256, big-endian.
    public let strong: [UInt64]

    public var blockCount: Int { weak.count }

    /// The signature of `base`, one of this node's own verified chunks (so at most 128 KiB).
    public init(base: [UInt8], blockSize: Int = defaultBlockSize) {
        precondition(Self.blockSizes.contains(blockSize) && base.count <= Self.maximumBaseLength, "a base of \(base.count) bytes in \(blockSize)-byte blocks")
        self.blockSize = blockSize
        baseLength = base.count
        var weak: [UInt32] = []
        var strong: [UInt64] = []
        let count = Self.blockCount(baseLength: base.count, blockSize: blockSize)
        weak.reserveCapacity(count)
        strong.reserveCapacity(count)
        base.withUnsafeBufferPointer { bytes in
            for start in stride(from: 0, to: bytes.count, by: blockSize) {
                let block = UnsafeBufferPointer(rebasing: bytes[start..<min(start + blockSize, bytes.count)])
                weak.append(RollingChecksum(block).value)
                strong.append(Self.strongChecksum(UnsafeRawBufferPointer(block)))
            }
        }
        self.weak = weak
        self.strong = strong
    }

    /// The bytes of block `index` in the base.
    func range(ofBlock index: Int) -> Range<Int> {
        index * blockSize..<min((index + 1) * blockSize, baseLength)
    }

    static func blockCount(baseLength: Int, blockSize: Int) -> Int {
        (baseLength + blockSize - 1) / blockSize
    }

    static func strongChecksum(_ block: UnsafeRawBufferPointer) -> UInt64 {
        SHA256.hash(data: block).withUnsafeBytes { digest in
            digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    // MARK: Encoding

    public var encodedCount: Int { Self.headerBytes + Self.bytesPerBlock * blockCount }

    public func encoded() -> [UInt8] {
        var writer = FieldWriter(capacity: encodedCount)
        writer.append(UInt16(blockSize))
        writer.append(UInt32(baseLength))
        for (weak, strong) in zip(weak, strong) {
            writer.append(weak)
            writer.append(strong)
        }
        return writer.bytes
    }

    /// Reads a signature a peer sent; throws on any size out of range or bytes short or left over.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = FieldReader<WireError>(bytes, subject: "chunk signature")
        let blockSize = Int(try reader.integer(UInt16.self, "block size"))
        guard Self.blockSizes.contains(blockSize) else {
            throw reader.failure("block size \(blockSize) is outside \(Self.blockSizes.lowerBound)–\(Self.blockSizes.upperBound)", at: 0)
        }
        let baseLength = Int(try reader.integer(UInt32.self, "base length"))
        guard baseLength <= Self.maximumBaseLength else {
            throw reader.failure("a base of \(baseLength) bytes exceeds the largest chunk, \(Self.maximumBaseLength)", at: 2)
        }
        let count = Self.blockCount(baseLength: baseLength, blockSize: blockSize)
        guard reader.remaining == count * Self.bytesPerBlock else {
            throw reader.failure("\(count) blocks need \(count * Self.bytesPerBlock) bytes of checksums, \(reader.remaining) follow")
        }
        var weak: [UInt32] = []
        var strong: [UInt64] = []
        weak.reserveCapacity(count)
        strong.reserveCapacity(count)
        for _ in 0..<count {
            weak.append(try reader.integer(UInt32.self, "weak checksum"))
            strong.append(try reader.integer(UInt64.self, "strong checksum"))
        }
        self.blockSize = blockSize
        self.baseLength = baseLength
        self.weak = weak
        self.strong = strong
    }
}
