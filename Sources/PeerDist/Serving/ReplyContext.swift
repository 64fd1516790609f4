import NIOCore
import PeerDistHashing
import PeerDistWire

/// What every handler needs to answer on one connection: the writer and the event loop it hands
/// writes to, a compressor, the block keys of the segments it serves, and the book of requests
/// (to see a cancel).
struct ReplyContext {
    let outbound: NIOAsyncChannelOutboundWriter<PeerMessage>
    /// The connection's event loop, which takes what `outbound` is handed.
    let eventLoop: any EventLoop
    let compressor: BlockCompressor
    let blockKeys = BlockKeyCache()
    let book: RequestBook

    /// Returns once the event loop has taken every write handed to `outbound` so far.
    ///
    /// The writer holds a sender back only once the channel has said it is full, and the channel
    /// can say so only when the loop gets to the writes; until then each write is queued for the
    /// loop. A handler producing replies faster than a busy loop runs (mirror chunks to several
    /// followers on two cores) queued tens of MiB of them that way. After this, the writer knows
    /// whether the channel has room, and the next write waits if it has none.
    func writesTaken() async throws {
        try await eventLoop.submit {}.get()
    }
}

/// How a node answers, the same on every connection: its counters, its upload limit, and
/// whether it lies (test-only fault injection: a byte of every block and chunk is flipped before
/// sealing).
struct ReplyPolicy: Sendable {
    let counters: NodeCounters
    let corruptsBlocks: Bool
    /// Shared by all connections: `--max-upload`.
    let uploadLimit: RateLimiter?
    /// Which segments and files compress, decided once for all connections.
    var compressibility = CompressibilityBook()
}

extension ReplyContext {
    /// A chunk's reply payload as it is: zstd-compressed when that saves at least 10 %.
    static func wholeChunk(_ bytes: [UInt8], compressor: BlockCompressor) -> (flags: SealedBlock.Flags, payload: [UInt8]) {
        let compressed = bytes.withUnsafeBytes { compressor.compress($0, savingAtLeast: BlockSealer.minimumSaving) }
        return (compressed == nil ? [] : .compressed, compressed ?? bytes)
    }

    /// `wholeChunk` of bytes already in a buffer, which is the payload when they do not compress.
    static func wholeChunk(_ bytes: ByteBuffer, compressor: BlockCompressor) -> (flags: SealedBlock.Flags, payload: ByteBuffer) {
        let compressed = bytes.withUnsafeReadableBytes { compressor.compress($0, savingAtLeast: BlockSealer.minimumSaving) }
        return compressed.map { (.compressed, ByteBuffer(bytes: $0)) } ?? ([], bytes)
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

