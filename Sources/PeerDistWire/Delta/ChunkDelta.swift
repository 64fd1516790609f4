/// A chunk described as a difference from a base chunk the receiver holds: runs of the base's
/// blocks to copy and bytes to take literally, in order. A server makes it from the new chunk and
/// the follower's `ChunkSignature` of the base; the follower applies it to the base.
///
/// Encoded, big-endian, operations back to back until the end:
/// `0x00 first block(2) count(2)` copies blocks `first ..< first + count` of the base (the last
/// block of the base may be shorter); `0x01 length(4) bytes` inserts `length` bytes (1 to
/// 128 KiB). A delta is only ever sent when smaller than its chunk, and a receiver checks every
/// operation against the base it holds and the chunk's length (`apply`), so a hostile delta
/// can make it neither read outside the base nor build more than the chunk.
public struct ChunkDelta: Hashable, Sendable {
    public enum Operation: Hashable, Sendable {
        case copy(firstBlock: UInt16, count: UInt16)
        case literal([UInt8])
    }

    public var operations: [Operation]

    public init(operations: [Operation]) {
        self.operations = operations
    }

    /// The longest chunk a delta may build: the largest the gear chunker cuts.
    public static let maximumTargetLength = ChunkSignature.maximumBaseLength
    static let copyTag: UInt8 = 0
    static let literalTag: UInt8 = 1

    // MARK: Making

    /// The delta that builds `target` from the base `signature` describes: one pass over
    /// `target` with a rolling checksum, taking the first block that matches at each offset
    /// (greedy, as rsync), and the rest as literals. Linear in `target` for any signature: a
    /// weak match that the strong checksum refutes costs a hash of one block, and after
    /// `target.count / 64 + 64` of those the rest of the chunk goes as a literal.
    public static func make(target: [UInt8], against signature: ChunkSignature) -> ChunkDelta {
        var builder = Builder()
        let lookup = BlockLookup(signature)
        let blockSize = signature.blockSize
        var falseMatchesLeft = target.count / 64 + 64
        target.withUnsafeBufferPointer { target in
            var position = 0
            var literalStart = 0
            var preferred = 0
            func window(at start: Int, _ count: Int) -> UnsafeBufferPointer<UInt8> {
                UnsafeBufferPointer(rebasing: target[start..<start + count])
            }
            if lookup.fullBlockCount > 0, target.count >= blockSize {
                var checksum = RollingChecksum(window(at: 0, blockSize))
                search: while falseMatchesLeft > 0 {
                    let weak = checksum.value
                    let match = lookup.hasWeak(weak, preferring: preferred)
                        ? lookup.match(weak, window: UnsafeRawBufferPointer(window(at: position, blockSize)), preferring: preferred) : .none
                    switch match {
                    case .block(let index):
                        builder.literal(target[literalStart..<position])
                        builder.copy(index)
                        preferred = index + 1
                        position += blockSize
                        literalStart = position
                        guard position + blockSize <= target.count else { break search }
                        checksum = RollingChecksum(window(at: position, blockSize))
                        continue search
                    case .falseMatch:
                        falseMatchesLeft -= 1
                    case .none:
                        break
                    }
                    guard position + blockSize < target.count else { break search }
                    checksum.roll(out: target[position], in: target[position + blockSize])
                    position += 1
                }
            }
            // A shorter last block can only be found where it ends the chunk.
            let last = signature.blockCount - 1
            if last >= lookup.fullBlockCount {
                let length = signature.range(ofBlock: last).count
                let start = target.count - length
                if start >= literalStart, RollingChecksum(window(at: start, length)).value == signature.weak[last],
                   ChunkSignature.strongChecksum(UnsafeRawBufferPointer(window(at: start, length))) == signature.strong[last] {
                    builder.literal(target[literalStart..<start])
                    builder.copy(last)
                    literalStart = target.count
                }
            }
            builder.literal(target[literalStart...])
        }
        return ChunkDelta(operations: builder.operations)
    }

    /// Appends operations, folding consecutive blocks into one copy.
    private struct Builder {
        var operations: [Operation] = []

        mutating func literal(_ bytes: UnsafeBufferPointer<UInt8>.SubSequence) {
            guard !bytes.isEmpty else { return }
            operations.append(.literal(Array(bytes)))
        }

        mutating func copy(_ block: Int) {
            if case .copy(let first, let count)? = operations.last, Int(first) + Int(count) == block, count < .max {
                operations[operations.count - 1] = .copy(firstBlock: first, count: count + 1)
            } else {
                operations.append(.copy(firstBlock: UInt16(block), count: 1))
            }
        }
    }

    // MARK: Applying

    /// The chunk this delta builds from `base`, cut in blocks of `blockSize` as its signature
    /// was. Throws, naming the operation, when one copies blocks the base does not have, when
    /// the result would pass `expectedLength`, or when it falls short of it; never builds more.
    public func apply(base: [UInt8], blockSize: Int, expectedLength: Int) throws(WireError) -> [UInt8] {
        guard ChunkSignature.blockSizes.contains(blockSize) else { throw WireError("chunk delta: block size \(blockSize) is out of range") }
        guard (0...Self.maximumTargetLength).contains(expectedLength) else {
            throw WireError("chunk delta: a chunk of \(expectedLength) bytes is out of range")
        }
        let blockCount = ChunkSignature.blockCount(baseLength: base.count, blockSize: blockSize)
        var output: [UInt8] = []
        output.reserveCapacity(expectedLength)
        for (number, operation) in operations.enumerated() {
            let room = expectedLength - output.count
            switch operation {
            case .copy(let first, let count):
                let first = Int(first), count = Int(count)
                guard count >= 1, first < blockCount, count <= blockCount - first else {
                    throw WireError("chunk delta, operation \(number): blocks \(first) to \(first + count - 1) are not all in a base of \(blockCount) blocks")
                }
                let bytes = first * blockSize..<min((first + count) * blockSize, base.count)
                guard bytes.count <= room else {
                    throw WireError("chunk delta, operation \(number): copying \(bytes.count) bytes runs past the chunk's \(expectedLength)")
                }
                output.append(contentsOf: base[bytes])
            case .literal(let bytes):
                guard !bytes.isEmpty, bytes.count <= room else {
                    throw WireError("chunk delta, operation \(number): a literal of \(bytes.count) bytes with \(room) of the chunk left")
                }
                output.append(contentsOf: bytes)
            }
        }
        guard output.count == expectedLength else {
            throw WireError("chunk delta builds \(output.count) bytes of a chunk of \(expectedLength)")
        }
        return output
    }

    // MARK: Encoding

    public var encodedCount: Int {
        operations.reduce(0) { total, operation in
            switch operation {
            case .copy: total + 5
            case .literal(let bytes): total + 5 + bytes.count
            }
        }
    }

    public func encoded() -> [UInt8] {
        var writer = FieldWriter(capacity: encodedCount)
        for operation in operations {
            switch operation {
            case .copy(let first, let count):
                writer.append(Self.copyTag)
                writer.append(first)
                writer.append(count)
            case .literal(let bytes):
                writer.append(Self.literalTag)
                writer.append(UInt32(bytes.count))
                writer.append(contentsOf: bytes)
            }
        }
        return writer.bytes
    }

    /// Reads a delta a peer sent: known operations only, copies of 1 or more blocks within the
    /// most a base can have, literals of 1 byte to 128 KiB and no more than that in all.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = FieldReader<WireError>(bytes, subject: "chunk delta")
        var operations: [Operation] = []
        var literalBytes = 0
        while !reader.isAtEnd {
            let start = reader.offset
            switch try reader.integer(UInt8.self, "operation") {
            case Self.copyTag:
                let first = try reader.integer(UInt16.self, "first block")
                let count = try reader.integer(UInt16.self, "block count")
                guard count >= 1, Int(first) + Int(count) <= ChunkSignature.maximumBlockCount else {
                    throw reader.failure("a copy of blocks \(first)+\(count) is outside any base", at: start)
                }
                operations.append(.copy(firstBlock: first, count: count))
            case Self.literalTag:
                let length = Int(try reader.integer(UInt32.self, "literal length"))
                guard length >= 1, length <= Self.maximumTargetLength - literalBytes else {
                    throw reader.failure("a literal of \(length) bytes after \(literalBytes) exceeds a chunk", at: start)
                }
                literalBytes += length
                operations.append(.literal(try reader.bytes(length, "literal")))
            case let tag:
                throw reader.failure("unknown operation \(tag)", at: start)
            }
        }
        self.operations = operations
    }
}
