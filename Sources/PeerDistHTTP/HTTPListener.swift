import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A bound HTTP/1.1 socket and its accept loop, shared by the node's small HTTP servers (the
/// MS-PCCRR retrieval server, the MS-PCCRTP origin, the operations endpoints): each owns what a
/// request means; this owns what every one of them must get right the same way.
///
/// - Binding happens at once, so the port is known and taken before the node announces itself.
/// - HTTP is swift-nio's parser (NIOHTTP1) with its error handling; with `maximumBodyBytes`, its
///   aggregator hands over whole requests and refuses larger bodies (413) before buffering them.
/// - A connection on which nothing happens for the idle time is closed (`CloseOnIdleHandler`),
///   and no more than `maximumConnections` are open at once: more are closed as they arrive, so
///   held sockets cannot pile up.
/// - `run` serves until a graceful shutdown or cancellation, which closes the listening socket;
///   one connection's failure never reaches another.
package final class HTTPListener<Inbound: Sendable>: Sendable {
    package typealias Connection = NIOAsyncChannel<Inbound, HTTPServerResponsePart>

    /// When a connection counts as idle.
    package enum Idleness: Sendable {
        /// Nothing read for this long: the peer should be asking.
        case nothingRead(TimeAmount)
        /// Nothing read or written: a long download keeps its connection.
        case nothingReadOrWritten(TimeAmount)

        var handler: IdleStateHandler {
            switch self {
            case .nothingRead(let time): IdleStateHandler(readTimeout: time)
            case .nothingReadOrWritten(let time): IdleStateHandler(allTimeout: time)
            }
        }
    }

    private let listener: NIOAsyncChannel<Connection, Never>
    private let maximumConnections: Int
    private let openConnections = Atomic<Int>(0)

    private init(listener: NIOAsyncChannel<Connection, Never>, maximumConnections: Int) {
        self.listener = listener
        self.maximumConnections = maximumConnections
    }

    /// The address bound, with the system's port where 0 was asked for.
    package var localAddress: SocketAddress? { listener.channel.localAddress }
    package var port: Int { localAddress?.port ?? 0 }

    fileprivate static func bind(
        host: String, port: Int, idleness: Idleness, maximumConnections: Int,
        completing: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void
    ) async throws -> HTTPListener {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(idleness.handler)
                    try pipeline.addHandler(CloseOnIdleHandler())
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try completing(pipeline)
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        return HTTPListener(listener: listener, maximumConnections: maximumConnections)
    }

    /// Accepts connections and serves each with `serve`, beside the others, until a graceful
    /// shutdown or cancellation.
    package func run(serving serve: @escaping @Sendable (Connection) async -> Void) async throws {
        try await cancelWhenGracefulShutdown {
            try await withTaskCancellationHandler {
                try await self.listener.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in connections {
                            guard self.openConnections.add(1, ordering: .relaxed).newValue <= self.maximumConnections else {
                                self.openConnections.subtract(1, ordering: .relaxed)
                                try? await connection.channel.close()
                                continue
                            }
                            group.addTask {
                                defer { self.openConnections.subtract(1, ordering: .relaxed) }
                                await serve(connection)
                            }
                        }
                    }
                }
            } onCancel: {
                self.listener.channel.close(promise: nil)
            }
        }
    }
}

extension HTTPListener where Inbound == NIOHTTPServerRequestFull {
    /// A listener that hands over whole requests, their bodies capped at `maximumBodyBytes`.
    package static func bind(
        host: String, port: Int, idleness: Idleness, maximumConnections: Int, maximumBodyBytes: Int
    ) async throws -> HTTPListener {
        try await bind(host: host, port: port, idleness: idleness, maximumConnections: maximumConnections) { pipeline in
            try pipeline.addHandler(NIOHTTPServerRequestAggregator(maxContentLength: maximumBodyBytes))
        }
    }
}

extension HTTPListener where Inbound == HTTPServerRequestPart {
    /// A listener that hands over requests as they come, head, body parts and end.
    package static func bindStreaming(host: String, port: Int, idleness: Idleness, maximumConnections: Int) async throws -> HTTPListener {
        try await bind(host: host, port: port, idleness: idleness, maximumConnections: maximumConnections) { _ in }
    }
}

/// Closes a connection when its `IdleStateHandler` says it went idle; used by the servers here
/// and by HTTP clients (an answer that never comes ends the exchange with an error).
package final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    package typealias InboundIn = NIOAny

    package init() {}

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
