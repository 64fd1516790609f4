import FuzzSupport
import NIOCore
import PeerDistHashing
import PeerDistWire

/// Chunk signatures and deltas, the two formats of a mirror's delta transfer: a server reads a
/// follower's signature and makes a delta against it; a follower reads the delta (maybe zstd
/// compressed) and applies it to its base.
///
/// The first byte picks the mode:
/// - 0: a signature, which must encode back to its bytes; a delta is then made of the rest of the
///   input against it, as a server does for whatever signature a peer sent, and must encode and
///   decode to itself;
/// - 1: `chunkLength(3) blockSizeIndex(1) baseLength(2) base delta`: the delta decoded (it must
///   encode back to its bytes) and applied to the base;
/// - 2: `blockSizeIndex(1) baseLength(2) base target`: the delta made of target against the
///   base's own signature must rebuild target exactly, with and without compression;
/// - 3: `compressed(1) chunkLength(3) blockSizeIndex(1) baseLength(2) base payload`: a `.chunk`
///   reply's delta payload as a follower decodes it.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    switch Fuzzing.take(1, from: &bytes) % 4 {
    case 0:
        let signatureLength = min(Fuzzing.take(2, from: &bytes), bytes.count)
        let encoded = Array(bytes.prefix(signatureLength))
        guard let signature = try? ChunkSignature(decoding: encoded) else { return }
        Fuzzing.check(signature.encoded() == encoded && signature.encodedCount == encoded.count, "a chunk signature does not encode back to its bytes")
        let target = Array(bytes.dropFirst(signatureLength).prefix(ChunkDelta.maximumTargetLength))
        let delta = ChunkDelta.make(target: target, against: signature)
        checkRoundTrip(delta)
    case 1:
        let expected = Fuzzing.take(3, from: &bytes) % (ChunkDelta.maximumTargetLength + 1)
        let (blockSize, base) = takeBase(from: &bytes)
        let encoded = Array(bytes)
        guard let delta = try? ChunkDelta(decoding: encoded) else { return }
        Fuzzing.check(delta.encoded() == encoded && delta.encodedCount == encoded.count, "a chunk delta does not encode back to its bytes")
        if let chunk = try? delta.apply(base: base, blockSize: blockSize, expectedLength: expected) {
            Fuzzing.check(chunk.count == expected, "an applied delta built \(chunk.count) bytes, not \(expected)")
        }
    case 2:
        let (blockSize, base) = takeBase(from: &bytes)
        let target = Array(bytes.prefix(ChunkDelta.maximumTargetLength))
        let signature = ChunkSignature(base: base, blockSize: blockSize)
        let delta = ChunkDelta.make(target: target, against: signature)
        checkRoundTrip(delta)
        do {
            let rebuilt = try delta.apply(base: base, blockSize: blockSize, expectedLength: target.count)
            Fuzzing.check(rebuilt == target, "a delta against a base's own signature does not rebuild the target")
        } catch {
            Fuzzing.check(false, "a delta against a base's own signature does not apply: \(error)")
        }
        guard !target.isEmpty else { return }
        let chunk = ChunkReference(hash: HashValue([UInt8](repeating: 0, count: 32)), length: UInt32(target.count))
        if let (flags, payload) = ChunkDeltaReply.encode(target, against: signature, compressor: BlockCompressor()) {
            do {
                let rebuilt = try ChunkDeltaReply.decode(
                    ByteBuffer(bytes: payload), compressed: flags.contains(.compressed), base: base, blockSize: blockSize, as: chunk)
                Fuzzing.check(rebuilt == target, "a delta reply does not rebuild its chunk")
            } catch {
                Fuzzing.check(false, "a delta reply is refused by its own receiver: \(error)")
            }
        }
    default:
        let compressed = Fuzzing.take(1, from: &bytes) & 1 == 1
        let length = 1 + Fuzzing.take(3, from: &bytes) % ContentInformationV2.maximumSegmentSize
        let (blockSize, base) = takeBase(from: &bytes)
        let chunk = ChunkReference(hash: HashValue([UInt8](repeating: 0, count: 32)), length: UInt32(length))
        if let rebuilt = try? ChunkDeltaReply.decode(ByteBuffer(bytes: bytes), compressed: compressed, base: base, blockSize: blockSize, as: chunk) {
            Fuzzing.check(rebuilt.count == length, "a delta reply built \(rebuilt.count) bytes of a \(length)-byte chunk")
        }
    }
}

/// A block size (one of 256 B to 16 KiB in powers of two) and a base of up to 64 KiB.
func takeBase(from bytes: inout ArraySlice<UInt8>) -> (blockSize: Int, base: [UInt8]) {
    let blockSize = 256 << (Fuzzing.take(1, from: &bytes) % 7)
    let length = min(Fuzzing.take(2, from: &bytes), bytes.count)
    let base = Array(bytes.prefix(length))
    bytes = bytes.dropFirst(length)
    return (blockSize, base)
}

func checkRoundTrip(_ delta: ChunkDelta) {
    let encoded = delta.encoded()
    Fuzzing.check(encoded.count == delta.encodedCount, "a delta's encodedCount is \(delta.encodedCount), its encoding \(encoded.count) bytes")
    do {
        Fuzzing.check(try ChunkDelta(decoding: encoded) == delta, "decode → encode → decode changed a chunk delta")
    } catch {
        Fuzzing.check(false, "a made delta is refused when decoded: \(error)")
    }
}

func makeSeeds() -> [String: [UInt8]] {
    let base = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
    var target = base
    target.replaceSubrange(1200..<1300, with: Array("an edit in the middle".utf8))
    target += Array("and a tail".utf8)
    func length(_ count: Int) -> [UInt8] { [UInt8(count >> 16), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)] }
    func baseField(_ sizeIndex: UInt8) -> [UInt8] {
        [sizeIndex, UInt8(base.count >> 8), UInt8(base.count & 0xFF)] + base
    }
    let signature = ChunkSignature(base: base, blockSize: 1024).encoded()
    let delta = ChunkDelta.make(target: target, against: ChunkSignature(base: base, blockSize: 1024)).encoded()
    var seeds: [String: [UInt8]] = [:]
    seeds["signature-and-target"] = [0, UInt8(signature.count >> 8), UInt8(signature.count & 0xFF)] + signature + target
    seeds["delta-on-base"] = [1] + length(target.count) + baseField(2) + delta
    seeds["make-and-apply"] = [2] + baseField(0) + target
    seeds["reply-plain"] = [3, 0] + length(target.count - 1) + baseField(2) + delta
    if let (flags, payload) = ChunkDeltaReply.encode(target, against: ChunkSignature(base: base, blockSize: 1024), compressor: BlockCompressor()),
       flags.contains(.compressed) {
        seeds["reply-compressed"] = [3, 1] + length(target.count - 1) + baseField(2) + payload
    }
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
