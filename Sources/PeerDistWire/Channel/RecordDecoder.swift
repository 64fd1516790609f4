import NIOCore

/// Cuts the TCP byte stream into records: a 32-bit big-endian length, then that many bytes.
/// A length above the limit is a protocol violation, never an allocation.
///
/// Until the handshake completes the limit is the largest handshake message, so a stranger who
/// has proved nothing cannot make the node buffer a quarter MiB per connection; the secure
/// channel raises it to `maximumRecord` once keys are agreed.
package final class RecordDecoder: ByteToMessageDecoder {
    package typealias InboundOut = ByteBuffer
    package static let maximumRecord = PeerMessage.Limits.maximumMessage + RecordCipher.tagSize
    package static let maximumHandshakeRecord = max(Handshake.clientHelloSize, Handshake.serverHelloSize, Handshake.clientAuthSize)

    /// The largest record taken now.
    package var limit: Int

    package init(limit: Int = RecordDecoder.maximumHandshakeRecord) {
        self.limit = limit
    }


    package func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length <= limit else {
            throw WireError("a record of \(length) bytes exceeds the limit of \(limit)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}
