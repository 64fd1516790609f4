import NIOCore
import PeerDistHashing

/// PeerDist's native encoding of `PeerMessage`: a type byte, then fields, integers big-endian,
/// byte strings length-prefixed (u32) and bounded by `PeerMessage.Limits`. One message fills one
/// record's header exactly; leftover bytes are an error. A block's bytes are not in the header
/// but the record's body (`body`), which the channel seals on its own.
extension PeerMessage {
    enum Kind: UInt8 {
        case getContentInformation = 1, contentInformation, getBlockList, blockList, getBlocks, block, replyEnd, cancel, error, getAvailability, availability
        case getMirrorRoot, getMirrorPage, mirrorPart, getChunks, chunk, getMirrorDiff, getChunkDelta, chunks
        case collaboration
    }

    /// A `.chunks` message's bytes before its replies (type, request ID, count), and each reply's
    /// before its payload (index, flags, length): what a sender packing replies counts.
    package static let chunksHeaderBytes = 7
    package static let chunkReplyHeaderBytes = 9

    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .getContentInformation(let requestID, let key):
            buffer.writeHeader(.getContentInformation, requestID)
            buffer.writeHash(key)
        case .contentInformation(let requestID, let total, let offset, let part):
            buffer.writeHeader(.contentInformation, requestID)
            buffer.writeMultipleIntegers(total, offset)
            buffer.writeBytesWithLength(part)
        case .getAvailability(let requestID, let key):
            buffer.writeHeader(.getAvailability, requestID)
            buffer.writeHash(key)
        case .availability(let requestID, let blockCount, let offset, let part):
            buffer.writeHeader(.availability, requestID)
            buffer.writeMultipleIntegers(blockCount, offset)
            buffer.writeBytesWithLength(part)
        case .getBlockList(let requestID, let segmentID, let ranges):
            buffer.writeHeader(.getBlockList, requestID)
            buffer.writeSegment(segmentID, ranges)
        case .blockList(let requestID, let segmentID, let ranges):
            buffer.writeHeader(.blockList, requestID)
            buffer.writeSegment(segmentID, ranges)
        case .getBlocks(let requestID, let segmentID, let ranges):
            buffer.writeHeader(.getBlocks, requestID)
            buffer.writeSegment(segmentID, ranges)
        case .block(let requestID, let index, let sealed):
            buffer.writeHeader(.block, requestID)
            buffer.writeMultipleIntegers(index, sealed.flags.rawValue)
        case .replyEnd(let requestID):
            buffer.writeHeader(.replyEnd, requestID)
        case .getMirrorRoot(let requestID, let key):
            buffer.writeHeader(.getMirrorRoot, requestID)
            buffer.writeHash(key)
        case .getMirrorPage(let requestID, let key, let page):
            buffer.writeHeader(.getMirrorPage, requestID)
            buffer.writeHash(key)
            buffer.writeHash(page)
        case .getMirrorDiff(let requestID, let key, let from, let to):
            buffer.writeHeader(.getMirrorDiff, requestID)
            buffer.writeHash(key)
            buffer.writeMultipleIntegers(from, to)
        case .mirrorPart(let requestID, let total, let offset, let part):
            buffer.writeHeader(.mirrorPart, requestID)
            buffer.writeMultipleIntegers(total, offset)
            buffer.writeBytesWithLength(part)
        case .getChunks(let requestID, let key, let chunks):
            buffer.writeHeader(.getChunks, requestID)
            buffer.writeHash(key)
            buffer.writeInteger(UInt16(chunks.count))
            for chunk in chunks {
                buffer.writeInteger(chunk.length)
                buffer.writeHash(chunk.hash)
            }
        case .getChunkDelta(let requestID, let key, let chunk, let base):
            buffer.writeHeader(.getChunkDelta, requestID)
            buffer.writeHash(key)
            buffer.writeInteger(chunk.length)
            buffer.writeHash(chunk.hash)
            buffer.writeBytesWithLength(base.encoded())
        case .chunk(let requestID, let index, let flags, let payload):
            buffer.writeHeader(.chunk, requestID)
            buffer.writeMultipleIntegers(index, flags.rawValue)
            buffer.writeInteger(UInt32(payload.readableBytes))
            buffer.writeImmutableBuffer(payload)
        case .chunks(let requestID, let replies):
            buffer.writeHeader(.chunks, requestID)
            buffer.writeInteger(UInt16(replies.count))
            for reply in replies {
                buffer.writeMultipleIntegers(reply.index, reply.flags.rawValue, UInt32(reply.payload.readableBytes))
                buffer.writeImmutableBuffer(reply.payload)
            }
        case .collaboration(let requestID, let kind, let payload):
            buffer.writeHeader(.collaboration, requestID)
            buffer.writeInteger(kind)
            buffer.writeBytesWithLength(payload)
        case .cancel(let requestID):
            buffer.writeHeader(.cancel, requestID)
        case .error(let requestID, let code, let message):
            buffer.writeHeader(.error, requestID)
            buffer.writeInteger(code)
            buffer.writeBytesWithLength(Array(Self.errorText(message).utf8))
        }
    }

    /// `text` cut to whole characters within `Limits.maximumErrorMessage` bytes: what an
    /// `.error` carries both ways. Received bytes that are not UTF-8 are replaced first, which can
    /// make them longer than the limit; cutting bytes instead of characters would split one.
    static func errorText(_ text: String) -> String {
        var text = text
        while text.utf8.count > Limits.maximumErrorMessage { text.removeLast() }
        return text
    }

    /// At least the bytes `write(to:)` takes, so the buffer it writes to need not grow.
    package var encodedSizeBound: Int {
        switch self {
        case .contentInformation(_, _, _, let part), .availability(_, _, _, let part), .mirrorPart(_, _, _, let part): return 32 + part.count
        case .getChunks(_, _, let chunks): return 48 + 36 * chunks.count
        case .getChunkDelta(_, _, _, let base): return 88 + base.encodedCount
        case .chunk(_, _, _, let payload): return 32 + payload.readableBytes
        case .chunks(_, let replies): return Self.chunksHeaderBytes + replies.reduce(0) { $0 + Self.chunkReplyHeaderBytes + $1.payload.readableBytes }
        case .getMirrorRoot, .getMirrorPage, .getMirrorDiff: return 80
        case .getBlockList(_, _, let ranges), .blockList(_, _, let ranges), .getBlocks(_, _, let ranges): return 48 + 8 * ranges.count
        case .block: return 16
        case .error(_, _, let message): return 16 + min(message.utf8.count, Limits.maximumErrorMessage)
        case .collaboration(_, _, let payload): return 16 + payload.count
        case .getContentInformation, .getAvailability, .replyEnd, .cancel: return 48
        }
    }

    /// The record's body: a held block's payload; nil for every other message.
    package var body: ByteBuffer? {
        guard case .block(_, _, let sealed) = self, !sealed.flags.contains(.notHeld) else { return nil }
        return sealed.payload
    }

    /// Decodes one whole record's header, with the record's body (a block's, sealed) and where
    /// it was sealed; throws on anything malformed, truncated, oversized or left over, and on a
    /// body where the message has none or none where it needs one.
    public init(decoding buffer: inout ByteBuffer, body: ByteBuffer?, opening: BlockOpening? = nil) throws(WireError) {
        try self.init(decodingHeader: &buffer)
        guard case .block(let requestID, let index, var sealed) = self else {
            if let body { throw WireError("a record carries a body of \(body.readableBytes) bytes with a message that has none") }
            return
        }
        if sealed.flags.contains(.notHeld) {
            if let body { throw WireError("block \(index) is flagged not held but carries \(body.readableBytes) bytes") }
            return
        }
        guard let body else { throw WireError("block \(index) carries no bytes") }
        guard body.readableBytes >= 16, body.readableBytes <= Limits.maximumBlockBody else {
            throw WireError("block \(index)'s body of \(body.readableBytes) bytes is outside 16–\(Limits.maximumBlockBody)")
        }
        sealed.payload = body
        sealed.opening = opening
        self = .block(requestID: requestID, index: index, sealed: sealed)
    }

    /// Decodes one whole record with no body; throws on anything malformed, truncated, oversized
    /// or left over.
    public init(decoding buffer: inout ByteBuffer) throws(WireError) {
        try self.init(decoding: &buffer, body: nil)
    }

    /// The message in a record's header; a held block's payload is left empty.
    private init(decodingHeader buffer: inout ByteBuffer) throws(WireError) {
        var reader = FieldReader<WireError>(buffer, subject: "message")
        let kindByte = try reader.integer(UInt8.self, "type")
        guard let kind = Kind(rawValue: kindByte) else { throw WireError("unknown message type \(kindByte)") }
        let requestID = try reader.integer(UInt32.self, "request ID")
        switch kind {
        case .getContentInformation:
            self = .getContentInformation(requestID: requestID, discoveryKey: try reader.hash("discovery key"))
        case .contentInformation:
            let (total, offset, part) = try reader.part(of: "content information")
            self = .contentInformation(requestID: requestID, total: total, offset: offset, part: part)
        case .getAvailability:
            self = .getAvailability(requestID: requestID, discoveryKey: try reader.hash("discovery key"))
        case .availability:
            let blockCount = try reader.integer(UInt32.self, "block count")
            let offset = try reader.integer(UInt32.self, "offset")
            let part = try reader.bytesWithLength("part", limit: Limits.maximumPart)
            guard UInt64(offset) + UInt64(part.count) <= (UInt64(blockCount) + 7) / 8 else {
                throw WireError("availability part [\(offset), +\(part.count)) runs past the bits of \(blockCount) blocks")
            }
            self = .availability(requestID: requestID, blockCount: blockCount, offset: offset, part: part)
        case .getBlockList:
            let (segmentID, ranges) = try reader.segment()
            self = .getBlockList(requestID: requestID, segmentID: segmentID, ranges: ranges)
        case .blockList:
            let (segmentID, ranges) = try reader.segment()
            self = .blockList(requestID: requestID, segmentID: segmentID, ranges: ranges)
        case .getBlocks:
            let (segmentID, ranges) = try reader.segment()
            self = .getBlocks(requestID: requestID, segmentID: segmentID, ranges: ranges)
        case .block:
            let index = try reader.integer(UInt32.self, "block index")
            let flags = SealedBlock.Flags(rawValue: try reader.integer(UInt8.self, "flags"))
            self = .block(requestID: requestID, index: index, sealed: SealedBlock(flags: flags, payload: ByteBuffer()))
        case .replyEnd:
            self = .replyEnd(requestID: requestID)
        case .cancel:
            self = .cancel(requestID: requestID)
        case .getMirrorRoot:
            self = .getMirrorRoot(requestID: requestID, discoveryKey: try reader.hash("discovery key"))
        case .getMirrorPage:
            let key = try reader.hash("discovery key")
            self = .getMirrorPage(requestID: requestID, discoveryKey: key, pageHash: try reader.hash("page hash"))
        case .getMirrorDiff:
            let key = try reader.hash("discovery key")
            let from = try reader.integer(UInt64.self, "from version")
            self = .getMirrorDiff(requestID: requestID, discoveryKey: key, from: from, to: try reader.integer(UInt64.self, "to version"))
        case .mirrorPart:
            let (total, offset, part) = try reader.part(of: "mirror")
            self = .mirrorPart(requestID: requestID, total: total, offset: offset, part: part)
        case .getChunks:
            let key = try reader.hash("discovery key")
            let count = try reader.integer(UInt16.self, "chunk count")
            guard count >= 1, count <= Limits.maximumChunksPerRequest else {
                throw WireError("\(count) chunks in one request; 1 to \(Limits.maximumChunksPerRequest) allowed")
            }
            var chunks: [ChunkReference] = []
            chunks.reserveCapacity(Int(count))
            for _ in 0..<count {
                chunks.append(try reader.chunkReference())
            }
            self = .getChunks(requestID: requestID, discoveryKey: key, chunks: chunks)
        case .getChunkDelta:
            let key = try reader.hash("discovery key")
            let chunk = try reader.chunkReference()
            let base = try ChunkSignature(decoding: try reader.bytesWithLength("chunk signature", limit: ChunkSignature.maximumEncodedBytes))
            self = .getChunkDelta(requestID: requestID, discoveryKey: key, chunk: chunk, base: base)
        case .chunk:
            let index = try reader.integer(UInt32.self, "chunk index")
            let flags = SealedBlock.Flags(rawValue: try reader.integer(UInt8.self, "flags"))
            let payload = try reader.sliceWithLength("chunk payload", limit: Limits.maximumBlockPayload)
            self = .chunk(requestID: requestID, index: index, flags: flags, payload: payload)
        case .chunks:
            let count = try reader.integer(UInt16.self, "reply count")
            guard count >= 1, count <= Limits.maximumChunksPerRequest else {
                throw WireError("\(count) chunk replies in one message; 1 to \(Limits.maximumChunksPerRequest) allowed")
            }
            var replies: [ChunkReply] = []
            replies.reserveCapacity(Int(count))
            for _ in 0..<count {
                let index = try reader.integer(UInt32.self, "chunk index")
                let flags = SealedBlock.Flags(rawValue: try reader.integer(UInt8.self, "flags"))
                replies.append(ChunkReply(index: index, flags: flags, payload: try reader.sliceWithLength("chunk payload", limit: Limits.maximumBlockPayload)))
            }
            self = .chunks(requestID: requestID, replies: replies)
        case .collaboration:
            let collaborationKind = try reader.integer(UInt8.self, "collaboration kind")
            let payload = try reader.bytesWithLength("collaboration payload", limit: Limits.maximumCollaborationPayload)
            self = .collaboration(requestID: requestID, kind: collaborationKind, payload: payload)
        case .error:
            let code = try reader.integer(UInt16.self, "error code")
            let message = try reader.bytesWithLength("error message", limit: Limits.maximumErrorMessage)
            self = .error(requestID: requestID, code: code, message: Self.errorText(String(decoding: message, as: UTF8.self)))
        }
        guard reader.buffer.readableBytes == 0 else {
            throw WireError("\(reader.buffer.readableBytes) bytes follow a \(kind) message")
        }
        buffer = reader.buffer
    }
}

/// The message codec's compound fields, read with the checks every message shares.
extension FieldReader where Failure == WireError {
    mutating func bytesWithLength(_ field: String, limit: Int) throws(WireError) -> [UInt8] {
        let length = try integer(UInt32.self, "\(field) length")
        guard length <= limit else { throw WireError("\(field) of \(length) bytes exceeds the limit of \(limit)") }
        return try bytes(Int(length), field)
    }

    /// Like `bytesWithLength`, but a view of the message's bytes rather than a copy.
    mutating func sliceWithLength(_ field: String, limit: Int) throws(WireError) -> ByteBuffer {
        let length = try integer(UInt32.self, "\(field) length")
        guard length <= limit else { throw WireError("\(field) of \(length) bytes exceeds the limit of \(limit)") }
        return try slice(Int(length), field)
    }

    /// `total(4) offset(4) part` of something sent in parts: the part lies within the total,
    /// and a total of 0 (nothing held) comes with no part.
    mutating func part(of what: String) throws(WireError) -> (total: UInt32, offset: UInt32, part: [UInt8]) {
        let total = try integer(UInt32.self, "total")
        let offset = try integer(UInt32.self, "offset")
        let part = try bytesWithLength("part", limit: PeerMessage.Limits.maximumPart)
        guard UInt64(offset) + UInt64(part.count) <= UInt64(total) || (total == 0 && part.isEmpty && offset == 0) else {
            throw WireError("\(what) part [\(offset), +\(part.count)) runs past its total \(total)")
        }
        return (total, offset, part)
    }

    /// `length(4) hash(32)` of a mirror chunk, 1 byte to 128 KiB long.
    mutating func chunkReference() throws(WireError) -> ChunkReference {
        let length = try integer(UInt32.self, "chunk length")
        guard length >= 1, length <= ContentInformationV2.maximumSegmentSize else { throw WireError("chunk length \(length) is out of range") }
        return ChunkReference(hash: try hash("chunk hash"), length: length)
    }

    mutating func segment() throws(WireError) -> (HashValue, [BlockRange]) {
        let segmentID = try hash("segment ID")
        let count = try integer(UInt16.self, "range count")
        guard count <= PeerMessage.Limits.maximumRanges else { throw WireError("\(count) ranges exceed the limit of \(PeerMessage.Limits.maximumRanges)") }
        var ranges: [BlockRange] = []
        ranges.reserveCapacity(Int(count))
        for _ in 0..<count {
            let index = try integer(UInt32.self, "range index")
            let length = try integer(UInt32.self, "range count")
            // Version 1 segments have at most 512 blocks; version 2 segments exactly one.
            guard length >= 1, index < 512, length <= 512 - index else { throw WireError("block range \(index)+\(length) is outside a segment") }
            ranges.append(BlockRange(index: index, count: length))
        }
        return (segmentID, ranges)
    }
}

extension ByteBuffer {
    fileprivate mutating func writeHeader(_ kind: PeerMessage.Kind, _ requestID: UInt32) {
        writeInteger(kind.rawValue)
        writeInteger(requestID)
    }

    fileprivate mutating func writeHash(_ hash: HashValue) {
        hash.withUnsafeBytes { _ = writeBytes($0) }
    }

    fileprivate mutating func writeBytesWithLength(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }

    fileprivate mutating func writeSegment(_ segmentID: HashValue, _ ranges: [BlockRange]) {
        writeHash(segmentID)
        writeInteger(UInt16(ranges.count))
        for range in ranges { writeMultipleIntegers(range.index, range.count) }
    }
}
