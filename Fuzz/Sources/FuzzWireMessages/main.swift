import FuzzSupport
import NIOCore
import PeerDistHashing
import PeerDistWire

/// What a peer sends inside an established channel: records decoded as `PeerMessage`s, the parts
/// of answers put together by `PartAssembly`, sealed Content Information and compressed blocks.
///
/// The first byte picks what is fed:
/// - 0: `bodyLength(3)`, then one record's header and that many bytes of body (a block's, at
///   the end), decoded as a message: it must encode to a header and body that decode to the
///   same message, the header within `encodedSizeBound`;
/// - 1: records, each `length(2) record`, whose parts (Content Information, availability, mirror
///   parts) go through one `PartAssembly` each, as a session assembles an answer;
/// - 2: sealed Content Information opened with a fixed content ID;
/// - 3: a zstd frame that must decompress to the length its first 3 bytes give (capped at 128 KiB).
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    switch Fuzzing.take(1, from: &bytes) % 4 {
    case 0:
        let bodyLength = Fuzzing.take(3, from: &bytes)
        let body = bodyLength > 0 && bodyLength <= bytes.count ? ByteBuffer(bytes: bytes.suffix(bodyLength)) : nil
        _ = roundTrip(ByteBuffer(bytes: bytes.dropLast(body?.readableBytes ?? 0)), body: body)
    case 1:
        var assemblies: [String: PartAssembly] = [:]
        while !bytes.isEmpty {
            let length = min(Fuzzing.take(2, from: &bytes), bytes.count)
            let record = ByteBuffer(bytes: bytes.prefix(length))
            bytes = bytes.dropFirst(length)
            guard let message = roundTrip(record) else { continue }
            let subject: String, total: UInt32, offset: UInt32, part: [UInt8]
            switch message {
            case .contentInformation(_, let t, let o, let p): (subject, total, offset, part) = ("Content Information", t, o, p)
            case .availability(_, let t, let o, let p): (subject, total, offset, part) = ("availability", UInt32((UInt64(t) + 7) / 8), o, p)
            case .mirrorPart(_, let t, let o, let p): (subject, total, offset, part) = ("mirror part", t, o, p)
            default: continue
            }
            var assembly = assemblies[subject] ?? PartAssembly(of: subject, limit: 1 << 20)
            let before = assembly.count
            do {
                switch try assembly.add(total: total, offset: offset, part: part) {
                case .complete(let whole):
                    Fuzzing.check(whole.count == Int(total), "an assembly completed with \(whole.count) bytes of \(total)")
                    assembly = PartAssembly(of: subject, limit: 1 << 20)
                case .partial:
                    Fuzzing.check(assembly.count == before + part.count && assembly.count < Int(total), "a partial assembly has \(assembly.count) bytes")
                case .notHeld:
                    Fuzzing.check(total == 0, "an assembly said not held for a total of \(total)")
                }
                assemblies[subject] = assembly
            } catch {
                assemblies[subject] = nil
            }
        }
    case 2:
        let sealed = Array(bytes)
        guard let blob = try? SealedContentInformation.open(sealed, for: contentID) else { return }
        Fuzzing.check(blob.count == sealed.count - 28, "opened Content Information has \(blob.count) bytes of \(sealed.count) sealed")
    default:
        let length = min(Fuzzing.take(3, from: &bytes), ContentInformationV2.maximumSegmentSize)
        let frame = Array(bytes)
        guard let block = frame.withUnsafeBytes({ BlockCompressor.decompress($0, exactLength: length) }) else { return }
        Fuzzing.check(block.count == length, "a frame decompressed to \(block.count) bytes, not \(length)")
    }
}

let contentID = ContentID(bytes: [UInt8](repeating: 7, count: 32))!

/// The message in a record's header and body, after checking that it survives encoding; nil
/// when refused.
func roundTrip(_ record: ByteBuffer, body: ByteBuffer? = nil) -> PeerMessage? {
    var buffer = record
    let message: PeerMessage
    do {
        message = try PeerMessage(decoding: &buffer, body: body)
    } catch {
        return nil
    }
    Fuzzing.check(message.body == body, "a message decoded with a body of \(body?.readableBytes ?? 0) bytes encodes another")
    Fuzzing.check(buffer.readableBytes == 0, "a decoded message left \(buffer.readableBytes) bytes")
    var encoded = ByteBuffer()
    message.write(to: &encoded)
    Fuzzing.check(encoded.readableBytes <= message.encodedSizeBound, "\(message) encodes to \(encoded.readableBytes) bytes, above its bound \(message.encodedSizeBound)")
    do {
        let again = try PeerMessage(decoding: &encoded, body: message.body)
        Fuzzing.check(again == message, "decode → encode → decode changed \(message) into \(again)")
    } catch {
        Fuzzing.check(false, "the re-encoded \(message) was refused: \(error)")
    }
    return message
}

func makeSeeds() -> [String: [UInt8]] {
    let key = HashValue([UInt8](repeating: 0xAB, count: 32))
    let ranges = [BlockRange(index: 0, count: 3), BlockRange(index: 10, count: 502)]
    let chunk = ChunkReference(hash: key, length: 4096)
    let messages: [String: PeerMessage] = [
        "get-content-information": .getContentInformation(requestID: 1, discoveryKey: key),
        "content-information": .contentInformation(requestID: 2, total: 10, offset: 4, part: [1, 2, 3]),
        "get-availability": .getAvailability(requestID: 3, discoveryKey: key),
        "availability": .availability(requestID: 4, blockCount: 20, offset: 1, part: [0xFF, 0x0F]),
        "get-block-list": .getBlockList(requestID: 5, segmentID: key, ranges: ranges),
        "block-list": .blockList(requestID: 6, segmentID: key, ranges: ranges),
        "get-blocks": .getBlocks(requestID: 7, segmentID: key, ranges: ranges),
        "block": .block(requestID: 8, index: 2, sealed: SealedBlock(flags: .compressed, payload: [UInt8](repeating: 9, count: 40))),
        "block-not-held": .block(requestID: 8, index: 3, sealed: .notHeld),
        "reply-end": .replyEnd(requestID: 9),
        "get-mirror-root": .getMirrorRoot(requestID: 10, discoveryKey: key),
        "get-mirror-page": .getMirrorPage(requestID: 11, discoveryKey: key, pageHash: key),
        "get-mirror-diff": .getMirrorDiff(requestID: 12, discoveryKey: key, from: 3, to: 5),
        "mirror-part": .mirrorPart(requestID: 13, total: 0, offset: 0, part: []),
        "get-chunks": .getChunks(requestID: 14, discoveryKey: key, chunks: [chunk, chunk]),
        "chunk": .chunk(requestID: 15, index: 1, flags: [.delta, .compressed], payload: ByteBuffer(bytes: [1, 2, 3])),
        "chunks": .chunks(requestID: 16, replies: [ChunkReply(index: 0, flags: [], payload: ByteBuffer(bytes: [4])), ChunkReply(index: 1, flags: .notHeld, payload: ByteBuffer())]),
        "get-chunk-delta": .getChunkDelta(requestID: 17, discoveryKey: key, chunk: chunk, base: ChunkSignature(base: Array(repeating: 5, count: 3000), blockSize: 1024)),
        "cancel": .cancel(requestID: 18),
        "error": .error(requestID: 19, code: 404, message: "not held ✓"),
    ]
    func encoded(_ message: PeerMessage) -> [UInt8] {
        var buffer = ByteBuffer()
        message.write(to: &buffer)
        return Array(buffer.readableBytesView)
    }
    var seeds = messages.mapValues { message in
        let body = message.body.map { Array($0.readableBytesView) } ?? []
        return [0, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + encoded(message) + body
    }
    // An answer in three parts, as a session receives it.
    var parts: [UInt8] = [1]
    for (offset, part) in [(0, [UInt8](repeating: 1, count: 5)), (5, [2, 2]), (7, [3])] {
        let record = encoded(.contentInformation(requestID: 1, total: 8, offset: UInt32(offset), part: part))
        parts += [UInt8(record.count >> 8), UInt8(record.count & 0xFF)] + record
    }
    seeds["parts"] = parts
    seeds["sealed-content-information"] = [2] + SealedContentInformation.seal(Array(repeating: 0x42, count: 100), for: contentID)
    let block = [UInt8](repeating: 0x61, count: 5000)
    if let frame = block.withUnsafeBytes({ BlockCompressor().compress($0, savingAtLeast: 0.1) }) {
        seeds["compressed-block"] = [3, 0, 0x13, 0x88] + frame
    }
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
