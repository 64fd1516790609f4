import Foundation
import NIOCore
import NIOPosix
import PeerDistWire

/// Splits a byte stream into lines (without the newline); a line over the limit closes the channel.
final class LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    static let maximumLine = 1 << 20

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maximumLine { throw NodeError(.protocolViolation, "a control line exceeds \(Self.maximumLine) bytes") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: length)!))
        buffer.moveReaderIndex(forwardBy: 1)
        return .continue
    }
}

/// A connection on the control socket, carrying JSON lines.
public typealias ControlChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

public enum ControlSocket {
    public static let fileName = "control.sock"

    static func configure(_ channel: any Channel) -> EventLoopFuture<ControlChannel> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
            return try ControlChannel(wrappingChannelSynchronously: channel)
        }
    }

    static func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        var buffer = ByteBuffer(bytes: Array(try JSONEncoder().encode(value)))
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from line: ByteBuffer) throws -> Value {
        try JSONDecoder().decode(type, from: Data(line.readableBytesView))
    }

    /// Sends one request to the node serving `dataDirectory` and hands each reply line to
    /// `onEvent` until a `result` or `error` (`progress` and `update` lines come before). Returns
    /// `nil` when no node listens there.
    public static func send(
        _ request: ControlRequest, dataDirectory: String, onEvent: (ControlEvent) throws -> Void
    ) async throws -> ControlEvent? {
        let path = "\(dataDirectory)/\(fileName)"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let channel: ControlChannel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { configure($0) }
        } catch {
            // A socket file left by a node that died: nobody is listening.
            return nil
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(encode(request))
            for try await line in inbound {
                let event = try decode(ControlEvent.self, from: line)
                try onEvent(event)
                if event.event != .progress, event.event != .update { return event }
            }
            throw NodeError(.unreachable, "the node closed the control connection before answering")
        }
    }
}
