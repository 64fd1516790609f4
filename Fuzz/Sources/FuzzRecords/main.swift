import FuzzSupport
import NIOCore
import NIOEmbedded
import PeerDistWire

/// The record layer as a peer's TCP stream reaches it: `RecordDecoder` cutting the bytes into
/// records (delivered in pieces whose sizes the input chooses), each record then opened with a
/// fixed key, and sealed and opened again.
///
/// Input: `pieceSize(1)` then the stream. The records must be exactly the stream's frames in
/// order, none above the limit, and the decoder must refuse the first oversized length rather
/// than wait for it; opening must refuse what was not sealed, and what is sealed must open to
/// itself. A second pass runs the stream through `SecureChannelHandler` as a server would
/// (the handshake fails on anything but a real ClientHello, and must fail cleanly).
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
        let receiver = RecordCipher(algorithm: algorithm, key: key)
        let sender = RecordCipher(algorithm: algorithm, key: key)
        let echo = RecordCipher(algorithm: algorithm, key: key)
        for record in records {
            var opened = Array(record.readableBytesView)
            let isOpen = opened.withUnsafeMutableBytes { receiver.open($0) }
            // A record not sealed under the key opens only by forging a 16-byte tag.
            Fuzzing.check(!isOpen || record.readableBytes >= RecordCipher.tagSize, "a record shorter than its tag opened")
            var sealed = Array(record.readableBytesView) + [UInt8](repeating: 0, count: RecordCipher.tagSize)
            sealed.withUnsafeMutableBytes { sender.seal($0, plaintextCount: record.readableBytes) }
            let echoed = sealed.withUnsafeMutableBytes { echo.open($0) }
            Fuzzing.check(echoed && sealed.prefix(record.readableBytes).elementsEqual(record.readableBytesView), "a sealed record does not open to itself")
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
    let sender = RecordCipher(algorithm: .aes256GCM, key: key)
    var stream: [UInt8] = []
    for plaintext in [[UInt8](repeating: 1, count: 20), Array("hello".utf8), []] {
        var sealed = plaintext + [UInt8](repeating: 0, count: RecordCipher.tagSize)
        sealed.withUnsafeMutableBytes { sender.seal($0, plaintextCount: plaintext.count) }
        stream += frame(sealed)
    }
    seeds["sealed-records"] = [7] + stream
    seeds["client-hello"] = [255] + frame(ClientHandshake(identity: .generate()).clientHello)
    seeds["oversized"] = [3] + frame([1, 2, 3]) + [0x00, 0x10, 0x00, 0x00]
    seeds["partial"] = [1] + frame([9, 9]) + [0, 0, 0, 9, 1]
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
