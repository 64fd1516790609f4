import NIOCore
import PeerDistWire

/// What every handler needs to answer on one connection: the writer, a compressor, and the book
/// of requests (to see a cancel).
struct ReplyContext {
    let outbound: NIOAsyncChannelOutboundWriter<PeerMessage>
    let compressor: BlockCompressor
    let book: RequestBook
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

    /// `bytes` cut into reply messages of at most `PeerMessage.Limits.maximumPart` bytes; one
    /// empty reply (total 0) when there are none.
    static func parts(of bytes: [UInt8], _ make: (_ total: UInt32, _ offset: UInt32, _ part: [UInt8]) -> PeerMessage) -> [PeerMessage] {
        guard !bytes.isEmpty else { return [make(0, 0, [])] }
        return stride(from: 0, to: bytes.count, by: PeerMessage.Limits.maximumPart).map { offset in
            make(UInt32(bytes.count), UInt32(offset), Array(bytes[offset..<min(bytes.count, offset + PeerMessage.Limits.maximumPart)]))
        }
    }
}

