import NIOCore
import PeerDistHashing

/// Cuts the TCP byte stream into records: a 32-bit big-endian length, then that many bytes.
/// A length above the limit is a protocol violation, never an allocation. A record that fits in
/// one read is passed on as a slice of it; one that spans reads is gathered in a buffer of its
/// exact size, the only copy the framing makes.
///
/// Until the handshake completes the limit is the largest handshake message, so a stranger who
/// has proved nothing cannot make the node buffer a quarter MiB per connection; the secure
/// channel raises it to `maximumRecord` once keys are agreed.
///
/// A record, once its first byte has arrived, must be whole within `deadline`, or the connection
/// is closed: a peer that stops mid-record cannot keep what it sent buffered for as long as it
/// likes. With `unfinished`, the records a listener's connections have started and not finished
/// also share one budget of bytes.
package final class RecordDecoder: ByteToMessageDecoder {
    package typealias InboundOut = ByteBuffer
    /// A header of at most the largest message and its tag, a body length, and a block's tag.
    package static let maximumRecord = PeerMessage.Limits.maximumMessage + 4 + 2 * RecordCipher.tagSize
    package static let maximumHandshakeRecord = max(Handshake.clientHelloSize, Handshake.serverHelloSize, Handshake.clientAuthSize)
    /// Time for one record to arrive whole: the largest record at 256 kbit/s, with room to spare.
    package static let recordDeadline = TimeAmount.seconds(30)

    /// The largest record taken now.
    package var limit: Int
    private let deadline: TimeAmount?
    private let unfinished: UnfinishedRecords?
    /// Armed while a record is under way: closes the connection at its deadline.
    private var timeout: Scheduled<Void>?
    /// The bytes of the record under way that `unfinished` counts.
    private var counted = 0
    /// A record that did not arrive in one read, as far as it has come, and the bytes it lacks.
    private var assembly: ByteBuffer?
    private var missing = 0

    /// `deadline` nil: a record may take as long as it likes.
    package init(limit: Int = RecordDecoder.maximumHandshakeRecord, deadline: TimeAmount? = RecordDecoder.recordDeadline, unfinished: UnfinishedRecords? = nil) {
        self.limit = limit
        self.deadline = deadline
        self.unfinished = unfinished
    }

    package func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if assembly != nil { return complete(context: context, from: &buffer) }
        guard buffer.readableBytes > 0 else {
            finished()
            return .needMoreData
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            started(context: context, bytes: buffer.readableBytes)
            return .needMoreData
        }
        guard length <= limit else {
            throw WireError("a record of \(length) bytes exceeds the limit of \(limit)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else {
            // The whole record counts from the start: that much will be buffered.
            started(context: context, bytes: 4 + Int(length))
            // Assembled in a buffer of its own, so the framing's buffer is left empty and the
            // next read is taken as it is rather than appended to what is left of this one.
            buffer.moveReaderIndex(forwardBy: 4)
            var record = context.channel.allocator.buffer(capacity: Int(length))
            record.writeBuffer(&buffer)
            assembly = record
            missing = Int(length) - record.readableBytes
            return .needMoreData
        }
        finished()
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    /// Adds what `buffer` holds of the record under assembly, and passes the record on once whole.
    private func complete(context: ChannelHandlerContext, from buffer: inout ByteBuffer) -> DecodingState {
        guard var record = assembly else { return .continue }
        assembly = nil
        let count = min(missing, buffer.readableBytes)
        var piece = buffer.readSlice(length: count)!
        record.writeBuffer(&piece)
        missing -= count
        guard missing == 0 else {
            assembly = record
            return .needMoreData
        }
        finished()
        context.fireChannelRead(wrapInboundOut(record))
        return .continue
    }

    package func decoderRemoved(context: ChannelHandlerContext) {
        assembly = nil
        finished()
    }

    /// A record is under way: its deadline is armed when its first bytes arrive, and its size counted.
    private func started(context: ChannelHandlerContext, bytes: Int) {
        if timeout == nil, let deadline {
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let seconds = deadline.nanoseconds / 1_000_000_000
            timeout = context.eventLoop.scheduleTask(in: deadline) {
                let context = boundContext.value
                context.fireErrorCaught(WireError("a record was not complete \(seconds) s after it began"))
                context.close(promise: nil)
            }
        }
        if let unfinished, bytes != counted {
            counted = bytes
            let channel = context.channel
            unfinished.hold(ObjectIdentifier(self), bytes: bytes) { channel.close(promise: nil) }
        }
    }

    private func finished() {
        timeout?.cancel()
        timeout = nil
        if counted > 0 {
            counted = 0
            unfinished?.release(ObjectIdentifier(self))
        }
    }
}

/// The records a listener's connections have begun and not finished, in bytes, kept within
/// `limit`: past it, the connection whose unfinished record began first is closed. An honest
/// peer's record is whole within a round trip or two, so the oldest are the stalled ones.
package final class UnfinishedRecords: Sendable {
    /// 32 MiB: about 120 of the largest records at once, in buffers of up to twice that. Honest
    /// peers send a listener requests, which are small; the large records go the other way.
    package static let defaultLimit = 32 << 20
    package let limit: Int

    private struct Holder {
        /// Order of arrival, oldest lowest.
        let order: UInt64
        var bytes: Int
        let close: @Sendable () -> Void
    }

    private struct State {
        var holders: [ObjectIdentifier: Holder] = [:]
        var total = 0
        var next: UInt64 = 0
        var closed = 0
    }

    private let state = PThreadMutex(State())

    package init(limit: Int = UnfinishedRecords.defaultLimit) {
        self.limit = limit
    }

    /// Bytes held now in unfinished records.
    package var total: Int { state.withLock { $0.total } }
    /// Connections closed so far to keep within the limit.
    package var closedCount: Int { state.withLock { $0.closed } }

    /// `owner`'s unfinished record holds `bytes` (replacing what it held before); `close` closes
    /// its connection. Connections with older records are closed while the total is over the limit.
    func hold(_ owner: ObjectIdentifier, bytes: Int, close: @escaping @Sendable () -> Void) {
        let evicted = state.withLock { state -> [@Sendable () -> Void] in
            if var holder = state.holders[owner] {
                state.total += bytes - holder.bytes
                holder.bytes = bytes
                state.holders[owner] = holder
            } else {
                state.holders[owner] = Holder(order: state.next, bytes: bytes, close: close)
                state.next += 1
                state.total += bytes
            }
            var evicted: [@Sendable () -> Void] = []
            while state.total > limit,
                  let (oldest, holder) = state.holders.filter({ $0.key != owner }).min(by: { $0.value.order < $1.value.order }) {
                state.holders[oldest] = nil
                state.total -= holder.bytes
                state.closed += 1
                evicted.append(holder.close)
            }
            return evicted
        }
        evicted.forEach { $0() }
    }

    /// `owner`'s record is whole, or its connection gone.
    func release(_ owner: ObjectIdentifier) {
        state.withLock { state in
            if let holder = state.holders.removeValue(forKey: owner) { state.total -= holder.bytes }
        }
    }
}
