import NIOCore
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire

/// Answers requests about content: its sealed Content Information, which blocks are held, and
/// the blocks themselves, which the channel seals once under a key derived from its own and the
/// content's block key. Content is found by discovery key, so a peer that does not know a
/// content ID cannot ask for its content.
struct ContentRequestHandler: Sendable {
    let source: any ContentSource
    let policy: ReplyPolicy
    var access: any AccessRules = PublicAccess()

    /// Block messages handed to the channel in one write (8 × 64 KiB).
    static let blocksPerWrite = 8
    /// Where blocks are read into: the buffer a block is read into is the one that is sent.
    static let allocator = ByteBufferAllocator()

    func contentInformation(requestID: UInt32, discoveryKey: HashValue, context: ReplyContext) async throws {
        guard let (id, information) = source.content(forDiscoveryKey: discoveryKey) else {
            try await context.outbound.write(.contentInformation(requestID: requestID, total: 0, offset: 0, part: []))
            return
        }
        let sealed = SealedContentInformation.seal(information.encoded(), for: id)
        if let audience = access.audience(ofContent: id) {
            // Private content: its readers learn who else may read it, and keep it to them.
            let message = CollaborationMessage.audience(audience.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) })
            try await context.outbound.write(.collaboration(requestID: requestID, kind: message.kind, payload: message.payload()))
        }
        try await context.outbound.write(contentsOf: ReplyContext.parts(of: sealed) { .contentInformation(requestID: requestID, total: $0, offset: $1, part: $2) })
    }

    func availability(requestID: UInt32, discoveryKey: HashValue, context: ReplyContext) async throws {
        guard let (id, _) = source.content(forDiscoveryKey: discoveryKey), let held = source.availability(of: id), held.blockCount > 0 else {
            try await context.outbound.write(.availability(requestID: requestID, blockCount: 0, offset: 0, part: []))
            return
        }
        let blockCount = UInt32(held.blockCount)
        try await context.outbound.write(contentsOf: ReplyContext.parts(of: held.bits) { _, offset, part in
            .availability(requestID: requestID, blockCount: blockCount, offset: offset, part: part)
        })
    }

    func blockList(requestID: UInt32, segmentID: HashValue, ranges: [BlockRange], context: ReplyContext) async throws {
        let held = source.segment(withID: segmentID).map { source.heldBlocks(of: $0) } ?? []
        try await context.outbound.write(.blockList(requestID: requestID, segmentID: segmentID, ranges: BlockRange.intersection(held, ranges)))
    }

    func blocks(requestID: UInt32, segmentID: HashValue, ranges: [BlockRange], context: ReplyContext) async throws {
        guard let segment = source.segment(withID: segmentID) else {
            let replies = ranges.flatMap(\.indices).map { PeerMessage.block(requestID: requestID, index: UInt32($0), sealed: .notHeld) }
            try await context.outbound.write(contentsOf: replies + [.replyEnd(requestID: requestID)])
            return
        }
        let key = context.blockKeys.blockKey(segmentSecret: segment.segmentSecret)
        let blockSize = segment.blockRange(0).count
        // Whether to compress is decided once per segment, or per file where a segment is one
        // block (version 2), and kept for every connection.
        let subject = segment.blockCount > 1 ? segmentID : source.contentID(ofSegment: segmentID)?.value ?? segmentID
        let compressibility = policy.compressibility
        // Blocks go out a few at a time: each write wakes the event loop, which costs more
        // than sealing a block, while a few blocks' delay costs the pipeline nothing.
        let readBlock = source.blockReader(of: segment)
        var batch: [PeerMessage] = []
        for index in ranges.flatMap(\.indices) {
            // A cancelled request stops between batches; its end still follows, so each request has one.
            if batch.isEmpty || batch.count == Self.blocksPerWrite, context.book.isCancelled(requestID) {
                batch.removeAll()
                break
            }
            if batch.count == Self.blocksPerWrite {
                try await policy.uploadLimit?.wait(for: batch.count * blockSize)
                try await context.outbound.write(contentsOf: batch)
                batch.removeAll(keepingCapacity: true)
            }
            guard index < segment.blockCount, var bytes = readBlock(index, Self.allocator) else {
                batch.append(.block(requestID: requestID, index: UInt32(index), sealed: .notHeld))
                continue
            }
            if policy.corruptsBlocks, let middle = bytes.getInteger(at: bytes.readerIndex + bytes.readableBytes / 2, as: UInt8.self) {
                bytes.setInteger(middle ^ 0xFF, at: bytes.readerIndex + bytes.readableBytes / 2)
            }
            let length = bytes.readableBytes
            let sealed = BlockSealer.prepare(bytes, key: key, segmentID: segmentID, index: UInt32(index)) {
                compressibility.compress($0, of: subject, with: context.compressor)
            }
            batch.append(.block(requestID: requestID, index: UInt32(index), sealed: sealed))
            policy.counters.update {
                $0.blocksSent += 1
                $0.blockBytesSent += UInt64(length)
            }
        }
        try await policy.uploadLimit?.wait(for: batch.count * blockSize)
        batch.append(.replyEnd(requestID: requestID))
        try await context.outbound.write(contentsOf: batch)
    }
}

extension BlockRange {
    /// The blocks in both lists, as ranges.
    static func intersection(_ held: [BlockRange], _ asked: [BlockRange]) -> [BlockRange] {
        let heldIndices = Set(held.flatMap(\.indices))
        return ranges(of: asked.flatMap(\.indices).filter(heldIndices.contains))
    }

    /// Consecutive indices folded into ranges.
    static func ranges(of indices: [Int]) -> [BlockRange] {
        var result: [BlockRange] = []
        for index in indices.sorted() {
            if let last = result.last, Int(last.index) + Int(last.count) == index {
                result[result.count - 1].count += 1
            } else if result.last.map({ !$0.indices.contains(index) }) ?? true {
                result.append(BlockRange(index: UInt32(index), count: 1))
            }
        }
        return result
    }
}
