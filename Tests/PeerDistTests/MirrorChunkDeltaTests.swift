import Crypto
import NIOCore
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistWire
@testable import PeerDistMirror

/// Chunk deltas: a chunk rebuilt from a similar base and a delta made against the base's
/// signature is the chunk, small edits cost about one block, and nothing a peer sends as a
/// signature or a delta makes either side crash, read outside the base or build too much.
@Suite struct MirrorChunkDeltaTests {
    static let base = StoreTestContent.random(count: 64 * 1024, seed: 41)

    /// The target rebuilt from `base` through an encoded signature and an encoded delta.
    static func roundTrip(_ target: [UInt8], from base: [UInt8], blockSize: Int = ChunkSignature.defaultBlockSize) throws -> (rebuilt: [UInt8], delta: ChunkDelta) {
        let signature = try ChunkSignature(decoding: ChunkSignature(base: base, blockSize: blockSize).encoded())
        let delta = ChunkDelta.make(target: target, against: signature)
        let decoded = try ChunkDelta(decoding: delta.encoded())
        #expect(decoded == delta)
        #expect(delta.encoded().count == delta.encodedCount)
        return (try decoded.apply(base: base, blockSize: signature.blockSize, expectedLength: target.count), delta)
    }

    static func inserting(_ bytes: [UInt8], at offset: Int, into base: [UInt8]) -> [UInt8] {
        Array(base[..<offset]) + bytes + Array(base[offset...])
    }

    @Test(arguments: [0, 1, 20_000, 32 * 1024, 32 * 1024 + 1, 64 * 1024 - 1, 64 * 1024])
    func anInsertionCostsAboutOneBlock(offset: Int) throws {
        let target = Self.inserting([0x42], at: offset, into: Self.base)
        let (rebuilt, delta) = try Self.roundTrip(target, from: Self.base)
        #expect(rebuilt == target)
        #expect(delta.encodedCount <= ChunkSignature.defaultBlockSize + 32, "\(delta.encodedCount) bytes for a one-byte insertion at \(offset)")
    }

    @Test func aDeletionAnOverwriteAndSeveralEditsStaySmall() throws {
        var deleted = Self.base
        deleted.removeSubrange(30_000..<30_100)
        var overwritten = Self.base
        overwritten.replaceSubrange(50_000..<50_016, with: [UInt8](repeating: 7, count: 16))
        var several = Self.inserting(Array("hello".utf8), at: 10_000, into: Self.base)
        several.removeSubrange(40_000..<40_500)
        several.replaceSubrange(60_000..<60_001, with: [0])
        for (target, limit) in [(deleted, 1100), (overwritten, 1100), (several, 3 * 1100)] {
            let (rebuilt, delta) = try Self.roundTrip(target, from: Self.base)
            #expect(rebuilt == target)
            #expect(delta.encodedCount <= limit)
        }
    }

    @Test func anIdenticalChunkIsOneCopy() throws {
        for base in [Self.base, Array(Self.base.prefix(64 * 1024 - 300)), Array(Self.base.prefix(700))] {
            let (rebuilt, delta) = try Self.roundTrip(base, from: base)
            #expect(rebuilt == base)
            let blocks = UInt16((base.count + 1023) / 1024)
            #expect(delta.operations == [.copy(firstBlock: 0, count: blocks)])
        }
        // Repeated blocks copy in runs, not block by block from wherever the first one matched.
        let zeros = [UInt8](repeating: 0, count: 16 * 1024)
        #expect(try Self.roundTrip(zeros, from: zeros).delta.operations == [.copy(firstBlock: 0, count: 16)])
    }

    @Test func unrelatedOrMissingBasesCostOneLiteral() throws {
        let unrelated = StoreTestContent.random(count: 64 * 1024, seed: 42)
        for base in [Self.base, [], [1, 2, 3], Array(Self.base.prefix(1023))] {
            let (rebuilt, delta) = try Self.roundTrip(unrelated, from: base)
            #expect(rebuilt == unrelated)
            #expect(delta.operations == [.literal(unrelated)])
        }
        // A target shorter than a block can still be its base's whole (short) last block.
        let short = Array(Self.base.prefix(500))
        #expect(try Self.roundTrip(short, from: short).delta.operations == [.copy(firstBlock: 0, count: 1)])
        #expect(try Self.roundTrip([], from: Self.base).delta.operations.isEmpty)
        // The base's last, shorter block is found only where it ends the target.
        let base = Array(Self.base.prefix(2500))
        let target = Array(base.prefix(2048)) + [9, 9] + Array(base[2048...])
        let (rebuilt, delta) = try Self.roundTrip(target, from: base)
        #expect(rebuilt == target)
        #expect(delta.operations == [.copy(firstBlock: 0, count: 2), .literal([9, 9]), .copy(firstBlock: 2, count: 1)])
    }

    @Test(arguments: [256, 1024, 4096, 16384])
    func everyBlockSizeRoundTrips(blockSize: Int) throws {
        let target = Self.inserting([1, 2, 3], at: 33_333, into: Self.base)
        let (rebuilt, delta) = try Self.roundTrip(target, from: Self.base, blockSize: blockSize)
        #expect(rebuilt == target)
        #expect(delta.encodedCount <= blockSize + 64)
    }

    @Test func theChecksumRollsAsItIsComputed() {
        let bytes = StoreTestContent.random(count: 3000, seed: 43) + [UInt8](repeating: 0xFF, count: 2000)
        var rolling = RollingChecksum(bytes[0..<1024])
        for start in 1...(bytes.count - 1024) {
            rolling.roll(out: bytes[start - 1], in: bytes[start + 1023])
            #expect(rolling.value == RollingChecksum(bytes[start..<start + 1024]).value)
        }
    }

    /// A signature whose every block claims the weak checksum of a window of zeros, each with
    /// another strong checksum: every offset of a chunk of zeros is a weak hit that fails. The
    /// delta is still made in bounded time, and is still right.
    @Test func aHostileSignatureCannotMakeTheServerLoop() throws {
        let blockCount = 128
        var bytes = [UInt8]()
        bytes += [0x04, 0x00]  // 1024-byte blocks
        bytes += withUnsafeBytes(of: UInt32(blockCount * 1024).bigEndian, Array.init)
        let zeroWeak = RollingChecksum([UInt8](repeating: 0, count: 1024)[...]).value
        for index in 0..<blockCount {
            bytes += withUnsafeBytes(of: zeroWeak.bigEndian, Array.init)
            bytes += withUnsafeBytes(of: UInt64(index).bigEndian, Array.init)
        }
        let signature = try ChunkSignature(decoding: bytes)
        let target = [UInt8](repeating: 0, count: 128 * 1024)
        let clock = ContinuousClock()
        var delta = ChunkDelta(operations: [])
        let elapsed = clock.measure { delta = ChunkDelta.make(target: target, against: signature) }
        #expect(delta.operations == [.literal(target)])
        #expect(elapsed < .seconds(5))
    }

    // MARK: Hostile input

    @Test func everyTruncationOfASignatureThrows() throws {
        for base in [Self.base, Array(Self.base.prefix(1500)), []] {
            let encoded = ChunkSignature(base: base).encoded()
            #expect(try ChunkSignature(decoding: encoded) == ChunkSignature(base: base))
            for length in 0..<encoded.count {
                #expect(throws: WireError.self) { try ChunkSignature(decoding: Array(encoded.prefix(length))) }
            }
            #expect(throws: WireError.self) { try ChunkSignature(decoding: encoded + [0]) }
        }
    }

    @Test func signatureHeadersOutOfRangeThrow() {
        func header(_ blockSize: UInt16, _ baseLength: UInt32) -> [UInt8] {
            withUnsafeBytes(of: blockSize.bigEndian, Array.init) + withUnsafeBytes(of: baseLength.bigEndian, Array.init)
        }
        for (blockSize, baseLength) in [(0, 0), (255, 0), (16385, 0), (1024, 128 * 1024 + 1), (1024, .max), (.max, 1)] as [(UInt16, UInt32)] {
            let error = #expect(throws: WireError.self) { try ChunkSignature(decoding: header(blockSize, baseLength)) }
            #expect(error?.description.contains("chunk signature, byte") == true)
        }
        // A length that needs more checksums than follow, or fewer.
        #expect(throws: WireError.self) { try ChunkSignature(decoding: header(1024, 2048) + [UInt8](repeating: 0, count: 12)) }
        #expect(throws: WireError.self) { try ChunkSignature(decoding: header(1024, 1024) + [UInt8](repeating: 0, count: 24)) }
    }

    @Test func bitFlipsInASignatureThrowOrDescribeAnotherBase() {
        let encoded = ChunkSignature(base: Array(Self.base.prefix(5000))).encoded()
        let target = Self.inserting([1], at: 2000, into: Array(Self.base.prefix(5000)))
        for bit in 0..<encoded.count * 8 {
            var flipped = encoded
            flipped[bit / 8] ^= 1 << (bit % 8)
            guard let signature = try? ChunkSignature(decoding: flipped) else { continue }
            // What decodes is a signature in its own right: a delta against it still builds the target from the base it claims.
            #expect(signature.encoded() == flipped)
            _ = ChunkDelta.make(target: target, against: signature)
        }
    }

    @Test func everyTruncationAndBitFlipOfADeltaThrowsOrStaysInBounds() throws {
        let target = Self.inserting(Array("inserted".utf8), at: 20_000, into: Self.base)
        let encoded = ChunkDelta.make(target: target, against: ChunkSignature(base: Self.base)).encoded()
        for length in 0..<encoded.count {
            // A prefix ending between operations decodes, but then builds too little.
            let prefix = Array(encoded.prefix(length))
            guard let delta = try? ChunkDelta(decoding: prefix) else { continue }
            #expect(throws: WireError.self) { try delta.apply(base: Self.base, blockSize: 1024, expectedLength: target.count) }
        }
        for bit in 0..<encoded.count * 8 {
            var flipped = encoded
            flipped[bit / 8] ^= 1 << (bit % 8)
            guard let delta = try? ChunkDelta(decoding: flipped), let rebuilt = try? delta.apply(base: Self.base, blockSize: 1024, expectedLength: target.count) else {
                continue
            }
            #expect(rebuilt.count == target.count)
        }
    }

    @Test func hostileDeltasThrowWithoutBuildingTooMuch() throws {
        let base = Array(Self.base.prefix(4000))  // 4 blocks, the last of 928 bytes
        let cases: [(ChunkDelta, Int, String)] = [
            (ChunkDelta(operations: [.copy(firstBlock: 4, count: 1)]), 1024, "not all in a base"),
            (ChunkDelta(operations: [.copy(firstBlock: 2, count: 3)]), 3000, "not all in a base"),
            (ChunkDelta(operations: [.copy(firstBlock: 0, count: 0)]), 0, "not all in a base"),
            (ChunkDelta(operations: [.copy(firstBlock: .max, count: .max)]), 1024, "not all in a base"),
            (ChunkDelta(operations: [.copy(firstBlock: 0, count: 4)]), 3999, "runs past"),
            (ChunkDelta(operations: [.copy(firstBlock: 0, count: 1), .literal([1, 2])]), 1025, "literal of 2 bytes"),
            (ChunkDelta(operations: [.literal([])]), 10, "literal of 0 bytes"),
            (ChunkDelta(operations: [.copy(firstBlock: 0, count: 1)]), 1025, "builds 1024 bytes"),
            (ChunkDelta(operations: [.literal([1])]), 128 * 1024 + 1, "out of range"),
            (ChunkDelta(operations: [.literal([1])]), -1, "out of range"),
        ]
        for (delta, expectedLength, message) in cases {
            let error = #expect(throws: WireError.self) { try delta.apply(base: base, blockSize: 1024, expectedLength: expectedLength) }
            #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error") for \(delta)")
        }
        #expect(throws: WireError.self) { try ChunkDelta(operations: []).apply(base: base, blockSize: 100, expectedLength: 0) }
        // The shorter last block copies as what it is.
        #expect(try ChunkDelta(operations: [.copy(firstBlock: 3, count: 1)]).apply(base: base, blockSize: 1024, expectedLength: 928) == Array(base[3072...]))
    }

    @Test func malformedDeltaEncodingsThrow() {
        let literal = { (length: UInt32) in [UInt8(1)] + withUnsafeBytes(of: length.bigEndian, Array.init) }
        let cases: [([UInt8], String)] = [
            ([2], "unknown operation 2"),
            ([0, 0, 0, 0, 0], "a copy of blocks 0+0"),
            ([0, 1, 255, 0, 2], "outside any base"),
            (literal(0), "a literal of 0 bytes"),
            (literal(.max), "exceeds a chunk"),
            (literal(128 * 1024) + [UInt8](repeating: 0, count: 128 * 1024) + literal(1) + [0], "exceeds a chunk"),
            (literal(10) + [1, 2, 3], "needs 10 bytes, only 3 remain"),
        ]
        for (bytes, message) in cases {
            let error = #expect(throws: WireError.self) { try ChunkDelta(decoding: bytes) }
            #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
        }
    }

    // MARK: On the wire

    /// The reply to a GetChunkDelta for a one-byte insertion in a 64 KiB chunk, and the request:
    /// a couple of KiB in all, where the chunk whole is 64 KiB.
    @Test func aOneByteInsertionTravelsInAFewKiB() throws {
        let target = Self.inserting([0x42], at: 32 * 1024 + 500, into: Self.base)
        let chunk = ChunkReference(hash: HashValue(SHA256.hash(data: target)), length: UInt32(target.count))
        let signature = ChunkSignature(base: Self.base)
        let key = HashValue([UInt8](repeating: 1, count: 32))
        let reply = try #require(ChunkDeltaReply.encode(target, against: signature, compressor: BlockCompressor()))
        #expect(reply.flags == .delta)
        let request = PeerMessage.getChunkDelta(requestID: 1, discoveryKey: key, chunk: chunk, base: signature)
        let answer = [PeerMessage.chunk(requestID: 1, index: 0, flags: reply.flags, payload: ByteBuffer(bytes: reply.payload)), .replyEnd(requestID: 1)]
        func size(_ message: PeerMessage) -> Int {
            var buffer = ByteBuffer()
            message.write(to: &buffer)
            return buffer.readableBytes
        }
        let down = answer.map(size).reduce(0, +)
        print("one-byte insertion into a 64 KiB chunk: delta payload \(reply.payload.count) B, reply messages \(down) B, request \(size(request)) B")
        #expect(down < 1200)
        #expect(size(request) < 900)
        let rebuilt = try ChunkDeltaReply.decode(ByteBuffer(bytes: reply.payload), compressed: false, base: Self.base, blockSize: signature.blockSize, as: chunk)
        #expect(rebuilt == target)
    }

    @Test func deltaRepliesCompressWhenItPaysAndGiveWayToWholeChunks() throws {
        // Text-like chunks: the literal compresses.
        let words = (0..<12_000).map { "word\($0 % 97) " }.joined()
        let base = Array(words.utf8.prefix(60_000))
        var target = base
        target.replaceSubrange(10_000..<14_000, with: Array((0..<4000).map { _ in UInt8(ascii: "z") }))
        let chunk = ChunkReference(hash: HashValue(SHA256.hash(data: target)), length: UInt32(target.count))
        let signature = ChunkSignature(base: base)
        let reply = try #require(ChunkDeltaReply.encode(target, against: signature, compressor: BlockCompressor()))
        #expect(reply.flags == [.delta, .compressed])
        #expect(try ChunkDeltaReply.decode(ByteBuffer(bytes: reply.payload), compressed: true, base: base, blockSize: 1024, as: chunk) == target)
        // A delta as long as its chunk, or one that decompresses to as much, is refused.
        let unrelated = StoreTestContent.random(count: 5000, seed: 44)
        #expect(ChunkDeltaReply.encode(unrelated, against: ChunkSignature(base: Self.base), compressor: BlockCompressor()) == nil)
        let small = ChunkReference(hash: chunk.hash, length: 100)
        #expect(throws: WireError.self) {
            try ChunkDeltaReply.decode(ByteBuffer(bytes: reply.payload), compressed: true, base: base, blockSize: 1024, as: small)
        }
        let long = ChunkDelta(operations: [.literal([UInt8](repeating: 1, count: 95))]).encoded()
        #expect(throws: WireError.self) { try ChunkDeltaReply.decode(ByteBuffer(bytes: long), compressed: false, base: base, blockSize: 1024, as: small) }
        #expect(throws: WireError.self) { try ChunkDeltaReply.decode(ByteBuffer(bytes: [1, 2, 3]), compressed: true, base: base, blockSize: 1024, as: small) }
    }
}
