import NIOCore
import PeerDistHashing
import Testing
@testable import PeerDistWire

/// Blocks cross a channel encrypted once (version 2 records): they open only with the content's
/// key, in the record, position and connection they were sealed for, and any change to a
/// record's header, body or framing is refused.
@Suite struct BlockRecordTests {
    static let algorithms = [RecordCipher.Algorithm.aes256GCM, .xChaCha20Poly1305]

    /// Both directions' keys of one connection, from a real handshake, for `algorithm`.
    struct Connection {
        let sealer: RecordSealer
        let keys: Handshake.Keys
        let algorithm: RecordCipher.Algorithm

        init(_ algorithm: RecordCipher.Algorithm) throws {
            if !algorithm.isSupported { try Test.cancel("this CPU has no AES instructions") }
            let client = ClientHandshake(identity: .generate())
            var server = ServerHandshake(identity: .generate())
            let (auth, clientKeys) = try client.receive(serverHello: try server.receive(clientHello: client.clientHello))
            _ = try server.receive(clientAuth: auth)
            self.algorithm = algorithm
            keys = clientKeys
            sealer = RecordSealer(algorithm: algorithm, recordKey: clientKeys.sending, blockSecret: clientKeys.sendingBlockSecret)
        }

        /// A receiver of what `sealer` sends, from the first record on.
        func opener() -> RecordOpener {
            RecordOpener(algorithm: algorithm, recordKey: keys.sending, blockSecret: keys.sendingBlockSecret)
        }

        /// The record (without its length) carrying `message`, as the codec and channel make it.
        func seal(_ message: PeerMessage) -> [UInt8] {
            var header = ByteBuffer()
            message.write(to: &header)
            var body: OutboundBody?
            if case .block(_, _, let sealed) = message, let sealing = sealed.sealing { body = OutboundBody(bytes: sealed.payload, sealing: sealing) }
            let frame = sealer.seal(OutboundRecord(header: header, body: body), allocator: ByteBufferAllocator())
            return Array(frame.readableBytesView.dropFirst(4))
        }
    }

    static let key = HashValue(Sodium.randomBytes(32))
    static let segmentID = HashValue(Sodium.randomBytes(32))

    static func block(_ bytes: [UInt8], index: UInt32, requestID: UInt32 = 1) -> PeerMessage {
        let sealed = bytes.withUnsafeBytes { BlockSealer.prepare($0, key: key, segmentID: segmentID, index: index) }
        return .block(requestID: requestID, index: index, sealed: sealed)
    }

    /// A block of random bytes, which travels as it is, and one of text, which travels compressed.
    static func randomAndText() -> [[UInt8]] {
        [Sodium.randomBytes(65_536), Array(String(repeating: "PeerDist seals each block once. ", count: 3000).utf8.prefix(65_536))]
    }

    /// The message in `record`, opened by `opener`.
    static func receive(_ record: [UInt8], with opener: RecordOpener) throws -> PeerMessage {
        var opened = try opener.open(ByteBuffer(bytes: record), allocator: ByteBufferAllocator())
        return try PeerMessage(decoding: &opened.header, body: opened.body, opening: opened.opening)
    }

    /// The block a received message carries, opened with `key`.
    static func open(_ message: PeerMessage, key: HashValue = key, segmentID: HashValue = segmentID, length: Int) throws -> [UInt8] {
        guard case .block(_, let index, let sealed) = message else { throw WireError("not a block") }
        return try BlockSealer.open(sealed, key: key, segmentID: segmentID, index: index, expectedLength: length)
    }

    @Test(arguments: algorithms)
    func blocksRoundTripEncryptedOnce(algorithm: RecordCipher.Algorithm) throws {
        let connection = try Connection(algorithm)
        let opener = connection.opener()
        for (index, bytes) in Self.randomAndText().enumerated() {
            let record = connection.seal(Self.block(bytes, index: UInt32(index)))
            // The record carries the block's bytes once, plus a header, two tags and a length.
            #expect(record.count <= bytes.count + 64)
            #expect(Self.search(record, for: Array(bytes[1000..<1064])) == false)
            let message = try Self.receive(record, with: opener)
            #expect(try Self.open(message, length: bytes.count) == bytes)
        }
        // Other messages, and a block not held, have no body and open as before.
        for message: PeerMessage in [.replyEnd(requestID: 4), .block(requestID: 4, index: 9, sealed: .notHeld)] {
            #expect(try Self.receive(connection.seal(message), with: opener) == message)
        }
    }

    /// A fetcher opens every block into one buffer of its own; a compressed block decompresses
    /// into it. A buffer that is not the block's length is refused, whether compressed or not.
    @Test(arguments: algorithms)
    func blocksOpenIntoTheCallersBuffer(algorithm: RecordCipher.Algorithm) throws {
        let connection = try Connection(algorithm)
        let opener = connection.opener()
        var buffer = [UInt8](repeating: 0xEE, count: 65_536)
        for (index, bytes) in Self.randomAndText().enumerated() {
            let message = try Self.receive(connection.seal(Self.block(bytes, index: UInt32(index))), with: opener)
            guard case .block(_, let blockIndex, let sealed) = message else { throw WireError("not a block") }
            #expect(sealed.flags.contains(.compressed) == (index == 1), "the text travels compressed")
            try buffer.withUnsafeMutableBytes {
                try BlockSealer.open(sealed, key: Self.key, segmentID: Self.segmentID, index: blockIndex, into: $0)
            }
            #expect(buffer == bytes)
            #expect(throws: WireError.self) {
                try buffer.withUnsafeMutableBytes {
                    try BlockSealer.open(sealed, key: Self.key, segmentID: Self.segmentID, index: blockIndex, into: UnsafeMutableRawBufferPointer(rebasing: $0.dropLast()))
                }
            }
        }
    }

    @Test(arguments: algorithms)
    func aBlockOpensOnlyWithItsContentKeySegmentAndIndex(algorithm: RecordCipher.Algorithm) throws {
        let connection = try Connection(algorithm)
        let bytes = Sodium.randomBytes(20_000)
        let message = try Self.receive(connection.seal(Self.block(bytes, index: 5)), with: connection.opener())
        // A peer that asked by segment ID knows the channel's keys, not the content's.
        for wrong in [Self.segmentID, HashValue(Sodium.randomBytes(32))] {
            #expect(throws: WireError.self) { try Self.open(message, key: wrong, length: bytes.count) }
        }
        #expect(throws: WireError.self) { try Self.open(message, segmentID: Self.key, length: bytes.count) }
        guard case .block(let requestID, _, let sealed) = message else { throw WireError("not a block") }
        #expect(throws: WireError.self) {
            try BlockSealer.open(sealed, key: Self.key, segmentID: Self.segmentID, index: 6, expectedLength: bytes.count)
        }
        // Flags are bound too: the same bytes claimed compressed do not open.
        var flagged = sealed
        flagged.flags = .compressed
        #expect(throws: WireError.self) { try Self.open(.block(requestID: requestID, index: 5, sealed: flagged), length: bytes.count) }
        // A block that never crossed a channel has nothing to open it with.
        let unsent = bytes.withUnsafeBytes { BlockSealer.prepare($0, key: Self.key, segmentID: Self.segmentID, index: 5) }
        #expect(throws: WireError.self) { try BlockSealer.open(unsent, key: Self.key, segmentID: Self.segmentID, index: 5, expectedLength: bytes.count) }
        #expect(try Self.open(message, length: bytes.count) == bytes)
    }

    @Test(arguments: algorithms)
    func truncatedRecordsAreRefused(algorithm: RecordCipher.Algorithm) throws {
        let connection = try Connection(algorithm)
        let bytes = Sodium.randomBytes(3000)
        let record = connection.seal(Self.block(bytes, index: 2))
        for length in stride(from: 0, to: record.count, by: 7) + [record.count - 1] {
            // Refused by the channel, by the codec, or when the block is opened: never accepted.
            #expect(throws: (any Error).self) {
                try Self.open(try Self.receive(Array(record.prefix(length)), with: connection.opener()), length: bytes.count)
            }
        }
        #expect(try Self.open(try Self.receive(record, with: connection.opener()), length: bytes.count) == bytes)
    }

    @Test(arguments: algorithms)
    func tamperingWithHeaderBodyOrFramingIsRefused(algorithm: RecordCipher.Algorithm) throws {
        let connection = try Connection(algorithm)
        let bytes = Sodium.randomBytes(3000)
        let record = connection.seal(Self.block(bytes, index: 2))
        let headerEnd = record.count - (bytes.count + RecordCipher.tagSize)
        // Body length, header (its ciphertext and tag), body (ciphertext and tag).
        for position in [0, 3, 4, 8, headerEnd - 1, headerEnd, headerEnd + 1500, record.count - 1] {
            var tampered = record
            tampered[position] ^= 0x01
            #expect(throws: (any Error).self) {
                try Self.open(try Self.receive(tampered, with: connection.opener()), length: bytes.count)
            }
        }
        // A tampered body passes the channel (the header is intact) and fails when opened.
        var body = record
        body[headerEnd + 10] ^= 0x80
        let message = try Self.receive(body, with: connection.opener())
        #expect(throws: WireError.self) { try Self.open(message, length: bytes.count) }
    }

    @Test(arguments: algorithms)
    func aBlockReplayedIntoAnotherPositionOrConnectionDoesNotOpen(algorithm: RecordCipher.Algorithm) throws {
        let connection = try Connection(algorithm)
        let first = Sodium.randomBytes(4096)
        let second = Sodium.randomBytes(4096)
        // The same block index asked for twice (two requests): the second record's body replaced
        // by the first's, which was sealed at another position of the stream.
        let record0 = connection.seal(Self.block(first, index: 3, requestID: 1))
        let record1 = connection.seal(Self.block(second, index: 3, requestID: 2))
        let bodyStart = record0.count - (first.count + RecordCipher.tagSize)
        let spliced = Array(record1[..<bodyStart]) + Array(record0[bodyStart...])
        let opener = connection.opener()
        #expect(try Self.open(try Self.receive(record0, with: opener), length: first.count) == first)
        let splicedMessage = try Self.receive(spliced, with: opener)
        #expect(throws: WireError.self) { try Self.open(splicedMessage, length: first.count) }
        // The whole first record again: the channel refuses it (its sequence number is past).
        #expect(throws: WireError.self) { try Self.receive(record0, with: opener) }

        // The first record's body in another connection's record at the same position, with the
        // same header fields: that connection's block secret differs, so it does not open.
        let other = try Connection(algorithm)
        let otherRecord = other.seal(Self.block(second, index: 3, requestID: 1))
        let foreign = Array(otherRecord[..<bodyStart]) + Array(record0[bodyStart...])
        let foreignMessage = try Self.receive(foreign, with: other.opener())
        #expect(throws: WireError.self) { try Self.open(foreignMessage, length: first.count) }
    }

    /// A channel remembers the keys it derived for the contents in flight: blocks of more contents
    /// than it keeps, taking turns and then again, each open with their own content's key only.
    @Test(arguments: algorithms)
    func blocksOfManyContentsTakingTurnsOpenWithTheirOwnKeys(algorithm: RecordCipher.Algorithm) throws {
        let connection = try Connection(algorithm)
        let opener = connection.opener()
        let keys = (0..<(BlockChannelSecret.keysKept + 5)).map { _ in HashValue(Sodium.randomBytes(32)) }
        for round in 0..<2 {
            for (number, key) in keys.enumerated() {
                let bytes = Sodium.randomBytes(1000 + number)
                let index = UInt32(round * keys.count + number)
                let sealed = bytes.withUnsafeBytes { BlockSealer.prepare($0, key: key, segmentID: Self.segmentID, index: index) }
                let message = try Self.receive(connection.seal(.block(requestID: 1, index: index, sealed: sealed)), with: opener)
                #expect(try Self.open(message, key: key, length: bytes.count) == bytes, "content \(number), round \(round)")
                let other = keys[(number + 1) % keys.count]
                #expect(throws: WireError.self, "content \(number) opened with another's key") { try Self.open(message, key: other, length: bytes.count) }
            }
        }
    }

    @Test func aVersionOnePeerIsRefusedWithAClearError() throws {
        let client = ClientHandshake(identity: .generate())
        var hello = client.clientHello
        hello[4...7] = [0, 1, 0, 1]
        var server = ServerHandshake(identity: .generate())
        let error = try #require(throws: WireError.self) { try server.receive(clientHello: hello) }
        #expect(error.description.contains("version 1"))
        #expect(error.description.contains("version 2"))
    }

    @Test func compressionIsDecidedOncePerSubject() {
        let book = CompressibilityBook()
        let compressor = BlockCompressor()
        let random = Sodium.randomBytes(65_536)
        let text = Array(String(repeating: "PeerDist compresses text. ", count: 3000).utf8.prefix(65_536))
        let incompressible = HashValue(Sodium.randomBytes(32))
        let compressible = HashValue(Sodium.randomBytes(32))
        func compress(_ block: [UInt8], _ subject: HashValue) -> [UInt8]? {
            block.withUnsafeBytes { book.compress($0, of: subject, with: compressor) }
        }
        #expect(book.verdict(on: incompressible) == nil)
        #expect(compress(random, incompressible) == nil)
        #expect(book.verdict(on: incompressible) == false)
        // Decided: even a compressible block of that subject is not tried.
        #expect(compress(text, incompressible) == nil)
        #expect(compress(text, compressible) != nil)
        #expect(book.verdict(on: compressible) == true)
        // A subject that compresses is tried on every block, and sends a block that does not as it is.
        #expect(compress(random, compressible) == nil)
        #expect(compress(text, compressible) != nil)
        #expect(book.verdict(on: compressible) == true)
    }

    static func search(_ haystack: [UInt8], for needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
