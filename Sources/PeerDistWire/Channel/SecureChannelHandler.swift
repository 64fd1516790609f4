import NIOCore

/// Runs the handshake, then seals every outbound record and opens every inbound one (a block's
/// body is sealed here too, once, and opened by whoever knows its content: see `RecordSealer`).
///
/// Until the handshake completes, writes wait in a queue; `established` succeeds with the peer's
/// identity once keys are agreed, or fails when the peer breaks the handshake or goes away.
package final class SecureChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias InboundOut = InboundRecord
    package typealias OutboundIn = OutboundRecord
    package typealias OutboundOut = ByteBuffer

    private enum State {
        case client(ClientHandshake)
        case serverAwaitingHello(ServerHandshake)
        case serverAwaitingAuth(ServerHandshake)
        case established(sending: RecordSealer, receiving: RecordOpener)
        case closed
    }

    private var state: State
    private let established: EventLoopPromise<PeerKey>
    private var pending: [(OutboundRecord, EventLoopPromise<Void>?)] = []
    private let handshakeTimeout: TimeAmount
    /// The framing below, whose record limit stays at the handshake's until keys are agreed.
    private let decoder: RecordDecoder?

    package init(
        isClient: Bool, identity: NodeIdentity, established: EventLoopPromise<PeerKey>, handshakeTimeout: TimeAmount = .seconds(10),
        decoder: RecordDecoder? = nil
    ) {
        self.state = isClient ? .client(ClientHandshake(identity: identity)) : .serverAwaitingHello(ServerHandshake(identity: identity))
        self.established = established
        self.handshakeTimeout = handshakeTimeout
        self.decoder = decoder
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    package func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let timeout = context.eventLoop.scheduleTask(in: handshakeTimeout) {
            handler.value.fail(context: boundContext.value, WireError("the peer did not complete the handshake in time"))
        }
        established.futureResult.whenComplete { _ in timeout.cancel() }
        if case .client(let handshake) = state {
            writeFrame(context: context, handshake.clientHello)
            context.flush()
        }
    }

    /// A channel that never connected is torn down without going inactive; the promise must still complete.
    package func handlerRemoved(context: ChannelHandlerContext) {
        established.fail(ChannelError.ioOnClosedChannel)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        established.fail(WireError("the connection closed during the handshake"))
        pending.forEach { $0.1?.fail(ChannelError.ioOnClosedChannel) }
        pending.removeAll()
        state = .closed
        context.fireChannelInactive()
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, error)
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var record = unwrapInboundIn(data)
        do {
            switch state {
            case .client(let handshake):
                let (auth, keys) = try handshake.receive(serverHello: record.readBytes(length: record.readableBytes) ?? [])
                writeFrame(context: context, auth)
                establish(context: context, keys)
            case .serverAwaitingHello(var handshake):
                let hello = try handshake.receive(clientHello: record.readBytes(length: record.readableBytes) ?? [])
                state = .serverAwaitingAuth(handshake)
                writeFrame(context: context, hello)
                context.flush()
            case .serverAwaitingAuth(let handshake):
                establish(context: context, try handshake.receive(clientAuth: record.readBytes(length: record.readableBytes) ?? []))
            case .established(_, let receiving):
                context.fireChannelRead(wrapInboundOut(try receiving.open(record, allocator: context.channel.allocator)))
            case .closed:
                return
            }
        } catch {
            fail(context: context, error)
        }
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let plaintext = unwrapOutboundIn(data)
        switch state {
        case .established(let sending, _):
            context.write(wrapOutboundOut(sending.seal(plaintext, allocator: context.channel.allocator)), promise: promise)
        case .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        default:
            pending.append((plaintext, promise))
        }
    }

    private func establish(context: ChannelHandlerContext, _ keys: Handshake.Keys) {
        let sending = RecordSealer(algorithm: keys.cipher, recordKey: keys.sending, blockSecret: keys.sendingBlockSecret)
        state = .established(
            sending: sending, receiving: RecordOpener(algorithm: keys.cipher, recordKey: keys.receiving, blockSecret: keys.receivingBlockSecret))
        decoder?.limit = RecordDecoder.maximumRecord
        for (plaintext, promise) in pending {
            context.write(wrapOutboundOut(sending.seal(plaintext, allocator: context.channel.allocator)), promise: promise)
        }
        pending.removeAll()
        context.flush()
        established.succeed(keys.remote)
    }

    private func writeFrame(context: ChannelHandlerContext, _ bytes: [UInt8]) {
        var frame = context.channel.allocator.buffer(capacity: 4 + bytes.count)
        frame.writeInteger(UInt32(bytes.count))
        frame.writeBytes(bytes)
        context.write(wrapOutboundOut(frame), promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        if case .closed = state { return }
        state = .closed
        established.fail(error)
        pending.forEach { $0.1?.fail(error) }
        pending.removeAll()
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
