import NIOCore
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire

/// Answers requests about mirrors: signed roots, manifest pages and diffs in parts, and chunks
/// of the mirrors' files, many to a message, or one as a delta against a base the asker holds.
struct MirrorRequestHandler: Sendable {
    let source: any MirrorSource
    let policy: ReplyPolicy
    var access: any AccessRules = PublicAccess()

    func root(requestID: UInt32, discoveryKey: HashValue, context: ReplyContext) async throws {
        let sealed = source.sealedRoot(forDiscoveryKey: discoveryKey) ?? []
        if !sealed.isEmpty, let audience = access.audience(ofMirror: discoveryKey) {
            // A private mirror: its followers learn who else may follow it, and keep it to them.
            let message = CollaborationMessage.audience(audience.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) })
            try await context.outbound.write(.collaboration(requestID: requestID, kind: message.kind, payload: message.payload()))
        }
        try await context.outbound.write(contentsOf: ReplyContext.parts(of: sealed) { .mirrorPart(requestID: requestID, total: $0, offset: $1, part: $2) })
    }

    func page(requestID: UInt32, discoveryKey: HashValue, pageHash: HashValue, context: ReplyContext) async throws {
        let page = source.page(forDiscoveryKey: discoveryKey, hash: pageHash) ?? []
        try await context.outbound.write(contentsOf: ReplyContext.parts(of: page) { .mirrorPart(requestID: requestID, total: $0, offset: $1, part: $2) })
    }

    func diff(requestID: UInt32, discoveryKey: HashValue, from: UInt64, to: UInt64, context: ReplyContext) async throws {
        let diff = source.diff(forDiscoveryKey: discoveryKey, from: from, to: to) ?? []
        try await context.outbound.write(contentsOf: ReplyContext.parts(of: diff) { .mirrorPart(requestID: requestID, total: $0, offset: $1, part: $2) })
    }

    func chunks(requestID: UInt32, discoveryKey: HashValue, chunks: [ChunkReference], context: ReplyContext) async throws {
        // Replies go many to a message, as many as fit: a tree of small files would cost a
        // message, a record and its encryption per file, on both sides.
        var replies: [ChunkReply] = []
        var repliesSize = PeerMessage.chunksHeaderBytes
        for (index, chunk) in chunks.enumerated() {
            // A cancelled request stops between messages; its end still follows.
            if replies.isEmpty, context.book.isCancelled(requestID) { break }
            let reply: ChunkReply
            if var bytes = read(chunk, of: discoveryKey) {
                if policy.corruptsBlocks, let middle = bytes.getInteger(at: bytes.readableBytes / 2, as: UInt8.self) {
                    bytes.setInteger(middle ^ 0xFF, at: bytes.readableBytes / 2)
                }
                let (flags, payload) = ReplyContext.wholeChunk(bytes, compressor: context.compressor)
                reply = ChunkReply(index: UInt32(index), flags: flags, payload: payload)
                policy.counters.update {
                    $0.chunksSent += 1
                    $0.chunkBytesSent += UInt64(chunk.length)
                }
            } else {
                reply = ChunkReply(index: UInt32(index), flags: .notHeld, payload: ByteBuffer())
            }
            let size = PeerMessage.chunkReplyHeaderBytes + reply.payload.readableBytes
            if repliesSize + size > PeerMessage.Limits.maximumMessage {
                try await policy.uploadLimit?.wait(for: repliesSize)
                try await context.outbound.write(.chunks(requestID: requestID, replies: replies))
                try await context.writesTaken()
                replies.removeAll(keepingCapacity: true)
                repliesSize = PeerMessage.chunksHeaderBytes
            }
            replies.append(reply)
            repliesSize += size
        }
        var last: [PeerMessage] = replies.isEmpty ? [] : [.chunks(requestID: requestID, replies: replies)]
        last.append(.replyEnd(requestID: requestID))
        try await policy.uploadLimit?.wait(for: repliesSize)
        try await context.outbound.write(contentsOf: last)
    }

    /// The chunk's verified bytes, read into the buffer they are sent from.
    private func read(_ chunk: ChunkReference, of discoveryKey: HashValue) -> ByteBuffer? {
        let length = Int(chunk.length)
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        var held = false
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
            held = source.readChunk(forDiscoveryKey: discoveryKey, chunk, into: raw)
            return held ? length : 0
        }
        return held ? buffer : nil
    }

    func chunkDelta(requestID: UInt32, discoveryKey: HashValue, chunk: ChunkReference, base: ChunkSignature, context: ReplyContext) async throws {
        // Cancelled while waiting: no chunk, but the request still ends.
        if context.book.isCancelled(requestID) {
            try await context.outbound.write(.replyEnd(requestID: requestID))
            return
        }
        guard var bytes = source.chunk(forDiscoveryKey: discoveryKey, chunk) else {
            try await context.outbound.write(contentsOf: [
                .chunk(requestID: requestID, index: 0, flags: .notHeld, payload: ByteBuffer()), .replyEnd(requestID: requestID),
            ])
            return
        }
        if policy.corruptsBlocks, !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
        let delta = ChunkDeltaReply.encode(bytes, against: base, compressor: context.compressor)
        let (flags, payload) = delta ?? ReplyContext.wholeChunk(bytes, compressor: context.compressor)
        try await policy.uploadLimit?.wait(for: payload.count)
        try await context.outbound.write(contentsOf: [
            .chunk(requestID: requestID, index: 0, flags: flags, payload: ByteBuffer(bytes: payload)), .replyEnd(requestID: requestID),
        ])
        policy.counters.update {
            $0.chunksSent += 1
            $0.chunkBytesSent += UInt64(bytes.count)
            if delta != nil { $0.chunkDeltasSent += 1 }
        }
    }
}
