import Logging
import NIOCore
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistMirror

/// Answers one peer's requests from a `ContentSource`, in order, until the peer hangs up or
/// breaks the protocol (then the connection alone is dropped; the node serves on).
struct BlockServer: Sendable {
    let source: any ContentSource
    let mirrors: any MirrorSource

    init(
        source: any ContentSource, mirrors: any MirrorSource = NoMirrors(), counters: NodeCounters, logger: Logger, corruptsBlocks: Bool,
        uploadLimit: RateLimiter?
    ) {
        self.source = source
        self.mirrors = mirrors
        self.counters = counters
        self.logger = logger
        self.corruptsBlocks = corruptsBlocks
        self.uploadLimit = uploadLimit
    }
    let counters: NodeCounters
    let logger: Logger
    /// Test-only fault injection: flips a byte of every block before sealing, making this node a lying peer.
    let corruptsBlocks: Bool
    /// Shared by all connections: `--max-upload`.
    let uploadLimit: RateLimiter?
    /// Block messages handed to the channel in one write (8 × 64 KiB).
    static let blocksPerWrite = 8

    /// Requests read but not yet answered, at most: a client keeps far fewer in flight.
    static let maximumQueuedRequests = 1024

    func serve(_ connection: PeerNetwork.Connection) async {
        counters.update { $0.connectionsAccepted += 1 }
        var logger = logger
        do {
            // Every exit goes through executeThenClose, which finishes the channel's writer.
            try await connection.channel.executeThenClose { inbound, outbound in
                let remote = try await connection.established.get()
                logger[metadataKey: "peer.fingerprint"] = "\(remote.fingerprint)"
                let compressor = BlockCompressor()
                // Requests are read ahead of the answers, so that a cancel reaches the request it
                // names while that is still queued or being sent.
                let queue = RequestBook()
                let (requests, continuation) = AsyncThrowingStream.makeStream(of: PeerMessage.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            for try await message in inbound {
                                if case .cancel(let requestID) = message {
                                    queue.cancel(requestID)
                                    continue
                                }
                                guard queue.enqueue(message) <= Self.maximumQueuedRequests else {
                                    throw WireError("the peer has more than \(Self.maximumQueuedRequests) requests waiting")
                                }
                                continuation.yield(message)
                            }
                            continuation.finish()
                        } catch {
                            continuation.finish(throwing: error)
                        }
                    }
                    for try await message in requests {
                        try await answer(message, outbound: outbound, compressor: compressor, book: queue)
                        queue.answered(message)
                    }
                    try await group.waitForAll()
                }
            }
        } catch {
            counters.update { $0.connectionsDropped += 1 }
            logger.info("dropped connection", metadata: ["error": "\(error)"])
        }
    }

    private func answer(_ message: PeerMessage, outbound: NIOAsyncChannelOutboundWriter<PeerMessage>, compressor: BlockCompressor, book: RequestBook) async throws {
        switch message {
        case .getContentInformation(let requestID, let discoveryKey):
            guard let (id, information) = source.content(forDiscoveryKey: discoveryKey) else {
                try await outbound.write(.contentInformation(requestID: requestID, total: 0, offset: 0, part: []))
                return
            }
            let sealed = SealedContentInformation.seal(information.encoded(), for: id)
            try await outbound.write(contentsOf: Self.parts(of: sealed) { .contentInformation(requestID: requestID, total: $0, offset: $1, part: $2) })

        case .getAvailability(let requestID, let discoveryKey):
            guard let (id, _) = source.content(forDiscoveryKey: discoveryKey), let held = source.availability(of: id), held.blockCount > 0 else {
                try await outbound.write(.availability(requestID: requestID, blockCount: 0, offset: 0, part: []))
                return
            }
            let blockCount = UInt32(held.blockCount)
            try await outbound.write(contentsOf: Self.parts(of: held.bits) { _, offset, part in
                .availability(requestID: requestID, blockCount: blockCount, offset: offset, part: part)
            })

        case .getBlockList(let requestID, let segmentID, let ranges):
            let held = source.segment(withID: segmentID).map { source.heldBlocks(of: $0) } ?? []
            try await outbound.write(.blockList(requestID: requestID, segmentID: segmentID, ranges: BlockRange.intersection(held, ranges)))

        case .getBlocks(let requestID, let segmentID, let ranges):
            guard let segment = source.segment(withID: segmentID) else {
                let replies = ranges.flatMap(\.indices).map { PeerMessage.block(requestID: requestID, index: UInt32($0), sealed: .notHeld) }
                try await outbound.write(contentsOf: replies + [.blocksDone(requestID: requestID)])
                return
            }
            let key = SegmentKeys.blockKey(segmentSecret: segment.segmentSecret)
            let blockSize = segment.blockRange(0).count
            // Blocks go out a few at a time: each write wakes the event loop, which costs more
            // than sealing a block, while a few blocks' delay costs the pipeline nothing.
            var batch: [PeerMessage] = []
            for index in ranges.flatMap(\.indices) {
                // A cancelled request stops between batches; its end still follows, so each request has one.
                if batch.isEmpty || batch.count == Self.blocksPerWrite, book.isCancelled(requestID) {
                    batch.removeAll()
                    break
                }
                if batch.count == Self.blocksPerWrite {
                    try await uploadLimit?.wait(for: batch.count * blockSize)
                    try await outbound.write(contentsOf: batch)
                    batch.removeAll(keepingCapacity: true)
                }
                guard index < segment.blockCount, var bytes = source.verifiedBlock(of: segment, index: index) else {
                    batch.append(.block(requestID: requestID, index: UInt32(index), sealed: .notHeld))
                    continue
                }
                if corruptsBlocks, !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
                let sealed = bytes.withUnsafeBytes { BlockSealer.seal($0, key: key, segmentID: segmentID, index: UInt32(index), compressor: compressor) }
                batch.append(.block(requestID: requestID, index: UInt32(index), sealed: sealed))
                counters.update {
                    $0.blocksSent += 1
                    $0.blockBytesSent += UInt64(bytes.count)
                }
            }
            try await uploadLimit?.wait(for: batch.count * blockSize)
            batch.append(.blocksDone(requestID: requestID))
            try await outbound.write(contentsOf: batch)

        case .getMirrorRoot(let requestID, let discoveryKey):
            let sealed = mirrors.sealedRoot(forDiscoveryKey: discoveryKey) ?? []
            try await outbound.write(contentsOf: Self.parts(of: sealed) { .mirrorPart(requestID: requestID, total: $0, offset: $1, part: $2) })

        case .getMirrorPage(let requestID, let discoveryKey, let pageHash):
            let page = mirrors.page(forDiscoveryKey: discoveryKey, hash: pageHash) ?? []
            try await outbound.write(contentsOf: Self.parts(of: page) { .mirrorPart(requestID: requestID, total: $0, offset: $1, part: $2) })

        case .getMirrorDiff(let requestID, let discoveryKey, let from, let to):
            let diff = mirrors.diff(forDiscoveryKey: discoveryKey, from: from, to: to) ?? []
            try await outbound.write(contentsOf: Self.parts(of: diff) { .mirrorPart(requestID: requestID, total: $0, offset: $1, part: $2) })

        case .getChunks(let requestID, let discoveryKey, let chunks):
            // Replies go many to a message, as many as fit: a tree of small files would cost a
            // message, a record and its encryption per file, on both sides.
            var replies: [ChunkReply] = []
            var repliesSize = PeerMessage.chunksHeaderBytes
            for (index, chunk) in chunks.enumerated() {
                // A cancelled request stops between messages; its end still follows.
                if replies.isEmpty, book.isCancelled(requestID) { break }
                let reply: ChunkReply
                if var bytes = mirrors.chunk(forDiscoveryKey: discoveryKey, chunk) {
                    if corruptsBlocks, !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
                    let (flags, payload) = Self.wholeChunk(bytes, compressor: compressor)
                    reply = ChunkReply(index: UInt32(index), flags: flags, payload: ByteBuffer(bytes: payload))
                    counters.update {
                        $0.chunksSent += 1
                        $0.chunkBytesSent += UInt64(bytes.count)
                    }
                } else {
                    reply = ChunkReply(index: UInt32(index), flags: .notHeld, payload: ByteBuffer())
                }
                let size = PeerMessage.chunkReplyHeaderBytes + reply.payload.readableBytes
                if repliesSize + size > PeerMessage.Limits.maximumMessage {
                    try await uploadLimit?.wait(for: repliesSize)
                    try await outbound.write(.chunks(requestID: requestID, replies: replies))
                    replies.removeAll(keepingCapacity: true)
                    repliesSize = PeerMessage.chunksHeaderBytes
                }
                replies.append(reply)
                repliesSize += size
            }
            var last: [PeerMessage] = replies.isEmpty ? [] : [.chunks(requestID: requestID, replies: replies)]
            last.append(.blocksDone(requestID: requestID))
            try await uploadLimit?.wait(for: repliesSize)
            try await outbound.write(contentsOf: last)

        case .getChunkDelta(let requestID, let discoveryKey, let chunk, let base):
            // Cancelled while waiting: no chunk, but the request still ends.
            if book.isCancelled(requestID) {
                try await outbound.write(.blocksDone(requestID: requestID))
                return
            }
            guard var bytes = mirrors.chunk(forDiscoveryKey: discoveryKey, chunk) else {
                try await outbound.write(contentsOf: [
                    .chunk(requestID: requestID, index: 0, flags: .notHeld, payload: ByteBuffer()), .blocksDone(requestID: requestID),
                ])
                return
            }
            if corruptsBlocks, !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
            let delta = ChunkDeltaReply.encode(bytes, against: base, compressor: compressor)
            let (flags, payload) = delta ?? Self.wholeChunk(bytes, compressor: compressor)
            try await uploadLimit?.wait(for: payload.count)
            try await outbound.write(contentsOf: [
                .chunk(requestID: requestID, index: 0, flags: flags, payload: ByteBuffer(bytes: payload)), .blocksDone(requestID: requestID),
            ])
            counters.update {
                $0.chunksSent += 1
                $0.chunkBytesSent += UInt64(bytes.count)
                if delta != nil { $0.chunkDeltasSent += 1 }
            }

        case .cancel:
            // Taken by the reader as it arrives.
            break

        case .contentInformation, .availability, .blockList, .block, .blocksDone, .error, .mirrorPart, .chunk, .chunks:
            throw WireError("a peer sent a reply where a request was expected")
        }
    }
}

extension BlockServer {
    /// A chunk's reply payload as it is: zstd-compressed when that saves at least 10 %.
    static func wholeChunk(_ bytes: [UInt8], compressor: BlockCompressor) -> (flags: SealedBlock.Flags, payload: [UInt8]) {
        let compressed = bytes.withUnsafeBytes { compressor.compress($0, savingAtLeast: BlockSealer.minimumSaving) }
        return (compressed == nil ? [] : .compressed, compressed ?? bytes)
    }

    /// `bytes` cut into reply messages of at most `PeerMessage.Limits.maximumPart` bytes; one
    /// empty reply (total 0) when there are none.
    static func parts(of bytes: [UInt8], _ make: (_ total: UInt32, _ offset: UInt32, _ part: [UInt8]) -> PeerMessage) -> [PeerMessage] {
        guard !bytes.isEmpty else { return [make(0, 0, [])] }
        return stride(from: 0, to: bytes.count, by: PeerMessage.Limits.maximumPart).map { offset in
            make(UInt32(bytes.count), UInt32(offset), Array(bytes[offset..<min(bytes.count, offset + PeerMessage.Limits.maximumPart)]))
        }
    }
}

/// The requests of one connection read and not yet answered, and which of them were cancelled.
private final class RequestBook: Sendable {
    private struct State {
        var waiting: [UInt32: Int] = [:]
        var count = 0
        var cancelled: Set<UInt32> = []
    }

    private let state = Mutex(State())

    /// Notes a request read; returns how many wait now.
    func enqueue(_ message: PeerMessage) -> Int {
        state.withLock { state in
            if let id = message.blockRequestID { state.waiting[id, default: 0] += 1 }
            state.count += 1
            return state.count
        }
    }

    func answered(_ message: PeerMessage) {
        state.withLock { state in
            state.count -= 1
            guard let id = message.blockRequestID, let waiting = state.waiting[id] else { return }
            state.waiting[id] = waiting > 1 ? waiting - 1 : nil
            if waiting == 1 { state.cancelled.remove(id) }
        }
    }

    /// Cancels a request still waiting or being answered; a cancel for anything else is moot.
    func cancel(_ id: UInt32) {
        state.withLock { state in
            if state.waiting[id] != nil { state.cancelled.insert(id) }
        }
    }

    func isCancelled(_ id: UInt32) -> Bool { state.withLock { $0.cancelled.contains(id) } }
}

extension PeerMessage {
    /// The request ID of a request for blocks or chunks, the only kinds a cancel stops.
    fileprivate var blockRequestID: UInt32? {
        switch self {
        case .getBlocks(let requestID, _, _), .getChunks(let requestID, _, _), .getChunkDelta(let requestID, _, _, _): requestID
        default: nil
        }
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
