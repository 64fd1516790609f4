import FuzzSupport
import NIOCore
import NIOEmbedded
import PeerDistHashing
import PeerDistWire

/// The record layer as a peer's TCP stream reaches it: `RecordDecoder` cutting the bytes into
/// records (delivered in pieces whose sizes the input chooses), each record then opened with
/// fixed keys (`RecordOpener`: body length, header, a block's body), and sealed and opened again.
///
/// Input: `pieceSize(1)` then the stream. The records must be exactly the stream's frames in
/// order, none above the limit, and the decoder must refuse the first oversized length rather
/// than wait for it; opening must refuse what was not sealed, and what is sealed (as a header,
/// with the same bytes as a block's body every other record) must open to itself, the block with
/// its content's key only (another key is tried on the first block of each stream). A second
/// pass runs the stream through `SecureChannelHandler` as a server would (the handshake fails on
/// anything but a real ClientHello, and must fail cleanly).
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    let pieceSize = max(1, Fuzzing.take(1, from: &bytes))
    let stream = Array(bytes)

    // Framing as after the handshake, at the full record limit.
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(RecordDecoder(limit: RecordDecoder.maximumRecord)))
    var refused = false
    for start in stride(from: 0, to: stream.count, by: pieceSize) where !refused {
        do {
            try channel.writeInbound(ByteBuffer(bytes: stream[start..<min(start + pieceSize, stream.count)]))
        } catch {
            refused = true
        }
    }
    var records: [ByteBuffer] = []
    while let record = try? channel.readInbound(as: ByteBuffer.self) { records.append(record) }
    _ = try? channel.finish(acceptAlreadyClosed: true)

    // The frames the stream holds, as the decoder must have cut them.
    var position = 0
    var oversized = false
    for record in records {
        let length = Int(frameLength(stream, at: position) ?? 0)
        Fuzzing.check(record.readableBytes == length && length <= RecordDecoder.maximumRecord, "a record of \(record.readableBytes) bytes where the frame says \(length)")
        Fuzzing.check(record.readableBytesView.elementsEqual(stream[(position + 4)..<(position + 4 + length)]), "a record's bytes are not its frame's")
        position += 4 + length
    }
    if let length = frameLength(stream, at: position) {
        oversized = length > RecordDecoder.maximumRecord
        Fuzzing.check(oversized || position + 4 + Int(length) > stream.count, "a whole frame at byte \(position) was not delivered")
    }
    Fuzzing.check(refused == oversized, refused ? "the decoder refused a stream without an oversized frame" : "an oversized frame was not refused")

    for algorithm in [RecordCipher.Algorithm.aes256GCM, .xChaCha20Poly1305] where algorithm.isSupported {
        let receiver = RecordOpener(algorithm: algorithm, recordKey: key, blockSecret: blockSecret)
        let sender = RecordSealer(algorithm: algorithm, recordKey: key, blockSecret: blockSecret)
        let echo = RecordOpener(algorithm: algorithm, recordKey: key, blockSecret: blockSecret)
        var triedAnotherKey = false
        for (number, record) in records.enumerated() {
            // A record not sealed under the key opens only by forging a 16-byte tag.
            if let opened = try? receiver.open(record, allocator: allocator) {
                Fuzzing.check(record.readableBytes >= 4 + RecordCipher.tagSize, "a record too short for a header opened")
                Fuzzing.check((opened.body == nil) == (opened.opening == nil), "a body came without what opens it, or the reverse")
            }
            let index = UInt32(number)
            let block = number % 2 == 1
                ? record.withUnsafeReadableBytes { BlockSealer.prepare($0, key: blockKey, segmentID: segmentID, index: index) { _ in nil } }
                : nil
            let body = block.flatMap { block in block.sealing.map { OutboundBody(bytes: block.payload, sealing: $0) } }
            var frame = sender.seal(OutboundRecord(header: record, body: body), allocator: allocator)
            Fuzzing.check(frame.readInteger(as: UInt32.self).map(Int.init) == frame.readableBytes, "a sealed record's length is not its frame's")
            guard let echoed = try? echo.open(frame, allocator: allocator) else {
                Fuzzing.check(false, "a sealed record does not open")
                continue
            }
            Fuzzing.check(echoed.header == record, "a sealed record's header does not open to itself")
            guard let block else {
                Fuzzing.check(echoed.body == nil, "a record sealed without a body opened with one")
                continue
            }
            let received = SealedBlock(flags: block.flags, payload: echoed.body ?? ByteBuffer(), opening: echoed.opening)
            let opened = try? BlockSealer.open(received, key: blockKey, segmentID: segmentID, index: index, expectedLength: record.readableBytes)
            Fuzzing.check(opened.map { $0.elementsEqual(record.readableBytesView) } ?? false, "a sealed block does not open to itself")
            // Once per stream: each try with the other key derives two keys afresh, which made
            // this check most of the target's time.
            if !triedAnotherKey {
                triedAnotherKey = true
                let stolen = try? BlockSealer.open(received, key: segmentID, segmentID: segmentID, index: index, expectedLength: record.readableBytes)
                Fuzzing.check(stolen == nil, "a sealed block opened with another content's key")
            }
        }
    }

    // The same stream to a server's secure channel, which must fail the handshake, not trap.
    let server = EmbeddedChannel()
    let established = server.eventLoop.makePromise(of: PeerKey.self)
    do {
        let decoder = RecordDecoder()
        try server.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
        try server.pipeline.syncOperations.addHandler(SecureChannelHandler(isClient: false, identity: identity, established: established, decoder: decoder))
        for start in stride(from: 0, to: stream.count, by: pieceSize) {
            try server.writeInbound(ByteBuffer(bytes: stream[start..<min(start + pieceSize, stream.count)]))
        }
    } catch {}
    while (try? server.readOutbound(as: ByteBuffer.self)) != nil {}
    _ = try? server.finish(acceptAlreadyClosed: true)
    established.fail(ChannelError.ioOnClosedChannel)
}

let key = [UInt8](repeating: 0x5A, count: 32)
let blockSecret = [UInt8](repeating: 0xA5, count: 32)
let blockKey = HashValue([UInt8](repeating: 0x3C, count: 32))
let segmentID = HashValue([UInt8](repeating: 0xC3, count: 32))
let allocator = ByteBufferAllocator()
let identity = NodeIdentity.generate()

func frameLength(_ stream: [UInt8], at position: Int) -> UInt32? {
    guard position + 4 <= stream.count else { return nil }
    return stream[position..<position + 4].reduce(0) { $0 << 8 | UInt32($1) }
}

func makeSeeds() -> [String: [UInt8]] {
    func frame(_ record: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: UInt32(record.count).bigEndian) { Array($0) } + record
    }
    var seeds: [String: [UInt8]] = [:]
    let sender = RecordSealer(algorithm: .aes256GCM, recordKey: key, blockSecret: blockSecret)
    var stream: [UInt8] = []
    for (index, plaintext) in [[UInt8](repeating: 1, count: 20), Array("hello".utf8), []].enumerated() {
        // The second record carries a block.
        let block = index == 1 ? plaintext.withUnsafeBytes { BlockSealer.prepare($0, key: blockKey, segmentID: segmentID, index: 1) { _ in nil } } : nil
        let body = block.flatMap { block in block.sealing.map { OutboundBody(bytes: block.payload, sealing: $0) } }
        let sealed = sender.seal(OutboundRecord(header: ByteBuffer(bytes: plaintext), body: body), allocator: allocator)
        stream += Array(sealed.readableBytesView)
    }
    seeds["sealed-records"] = [7] + stream
    seeds["client-hello"] = [255] + frame(ClientHandshake(identity: .generate()).clientHello)
    seeds["oversized"] = [3] + frame([1, 2, 3]) + [0x00, 0x10, 0x00, 0x00]
    seeds["partial"] = [1] + frame([9, 9]) + [0, 0, 0, 9, 1]
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
