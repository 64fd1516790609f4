import NIOCore

/// Turns opened records into `PeerMessage`s and messages into records: a message's fields are
/// the record's header; a block's bytes its body, handed to the channel with the key it is to be
/// sealed under.
final class PeerMessageCodec: ChannelDuplexHandler {
    typealias InboundIn = InboundRecord
    typealias InboundOut = PeerMessage
    typealias OutboundIn = PeerMessage
    typealias OutboundOut = OutboundRecord

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var record = unwrapInboundIn(data)
        do {
            context.fireChannelRead(wrapInboundOut(try PeerMessage(decoding: &record.header, body: record.body, opening: record.opening)))
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let message = unwrapOutboundIn(data)
        var header = context.channel.allocator.buffer(capacity: message.encodedSizeBound)
        message.write(to: &header)
        var body: OutboundBody?
        if let bytes = message.body {
            guard case .block(_, _, let sealed) = message, let sealing = sealed.sealing else {
                // A block's bytes never go out unsealed: one made for sending has its key.
                promise?.fail(WireError("a block to send has no key to be sealed under"))
                return
            }
            body = OutboundBody(bytes: bytes, sealing: sealing)
        }
        context.write(wrapOutboundOut(OutboundRecord(header: header, body: body)), promise: promise)
    }
}
