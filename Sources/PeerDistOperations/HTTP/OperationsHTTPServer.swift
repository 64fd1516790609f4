import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// One reply of an `OperationsHTTPServer`: a status, a content type and a body.
public struct OperationsHTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]

    public init(status: HTTPResponseStatus = .ok, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public static func text(_ text: String, status: HTTPResponseStatus = .ok) -> OperationsHTTPResponse {
        OperationsHTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }
}

/// The small HTTP/1.1 server behind `serve --metrics` and `serve --web`: GET (and HEAD) only,
/// one reply per request from `route`, connections kept alive and closed when idle.
///
/// swift-nio's NIOHTTP1, as the BranchCache server, rather than a web framework: two read-only
/// endpoints do not justify the minutes Hummingbird would add to a first build. Requests carry
/// no body worth reading, so anything beyond a small one is refused (413) before it is buffered.
public final class OperationsHTTPServer: Service, Sendable {
    public typealias Route = @Sendable (_ path: String) async -> OperationsHTTPResponse
    typealias Connection = NIOAsyncChannel<NIOHTTPServerRequestFull, HTTPServerResponsePart>

    static let idleTimeout: TimeAmount = .seconds(60)
    static let maximumConnections = 64
    static let maximumRequestBodyBytes = 4096

    private let listener: NIOAsyncChannel<Connection, Never>
    private let route: Route
    private let logger: Logger
    private let openConnections = Atomic<Int>(0)
    /// The address bound, as `host:port` (`[host]:port` for IPv6), with the system's port for 0.
    public let address: String

    private init(listener: NIOAsyncChannel<Connection, Never>, route: @escaping Route, logger: Logger) {
        self.listener = listener
        self.route = route
        self.logger = logger
        let bound = listener.channel.localAddress
        let host = bound?.ipAddress ?? "?"
        address = (host.contains(":") ? "[\(host)]" : host) + ":\(bound?.port ?? 0)"
    }

    /// Binds now, so that the port is known and taken before the node announces itself; `run`
    /// serves it.
    public static func bind(host: String, port: Int, logger: Logger, route: @escaping Route) async throws -> OperationsHTTPServer {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try pipeline.addHandler(CloseWhenIdle())
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(NIOHTTPServerRequestAggregator(maxContentLength: maximumRequestBodyBytes))
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        return OperationsHTTPServer(listener: listener, route: route, logger: logger)
    }

    /// Serves until a graceful shutdown or cancellation, which closes the listening socket.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withTaskCancellationHandler {
                try await self.listener.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in connections {
                            guard self.openConnections.add(1, ordering: .relaxed).newValue <= Self.maximumConnections else {
                                self.openConnections.subtract(1, ordering: .relaxed)
                                try? await connection.channel.close()
                                continue
                            }
                            group.addTask {
                                defer { self.openConnections.subtract(1, ordering: .relaxed) }
                                await self.serve(connection)
                            }
                        }
                    }
                }
            } onCancel: {
                self.listener.channel.close(promise: nil)
            }
        }
    }

    private func serve(_ connection: Connection) async {
        do {
            try await connection.executeThenClose { requests, replies in
                for try await request in requests {
                    let head = request.head
                    let response: OperationsHTTPResponse
                    if head.method == .GET || head.method == .HEAD {
                        // The query string never selects anything here.
                        let path = String(head.uri.prefix { $0 != "?" })
                        response = await route(path)
                    } else {
                        response = .text("only GET and HEAD\n", status: .methodNotAllowed)
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: response.contentType)
                    headers.add(name: "Content-Length", value: "\(response.body.count)")
                    headers.add(name: "Cache-Control", value: "no-store")
                    headers.add(name: "Connection", value: head.isKeepAlive ? "keep-alive" : "close")
                    try await replies.write(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers)))
                    if head.method != .HEAD { try await replies.write(.body(.byteBuffer(ByteBuffer(bytes: response.body)))) }
                    try await replies.write(.end(nil))
                    guard head.isKeepAlive else { return }
                }
            }
        } catch {
            logger.debug("operations HTTP connection ended", metadata: ["error": "\(error)"])
        }
    }
}

/// Closes a connection on which nothing arrived for the idle timeout.
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
