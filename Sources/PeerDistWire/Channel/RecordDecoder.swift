import NIOCore

/// Cuts the TCP byte stream into records: a 32-bit big-endian length, then that many bytes.
/// A length above the limit is a protocol violation, never an allocation.
package final class RecordDecoder: ByteToMessageDecoder {
    package typealias InboundOut = ByteBuffer
    package static let maximumRecord = PeerMessage.Limits.maximumMessage + RecordCipher.tagSize

    package init() {}

    package func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length <= Self.maximumRecord else {
            throw WireError("a record of \(length) bytes exceeds the limit of \(Self.maximumRecord)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}
