import NIOCore

/// Turns decrypted records into `PeerMessage`s and back.
final class PeerMessageCodec: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = PeerMessage
    typealias OutboundIn = PeerMessage
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var record = unwrapInboundIn(data)
        do {
            context.fireChannelRead(wrapInboundOut(try PeerMessage(decoding: &record)))
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let message = unwrapOutboundIn(data)
        // Sized up front: a block message grown from a small buffer would be copied as it grows.
        var buffer = context.channel.allocator.buffer(capacity: message.encodedSizeBound)
        message.write(to: &buffer)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
