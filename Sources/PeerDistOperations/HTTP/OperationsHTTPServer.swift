import Logging
import NIOCore
import NIOHTTP1
import PeerDistHTTP
import ServiceLifecycle

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
    typealias Listener = HTTPListener<NIOHTTPServerRequestFull>

    static let idleTimeout: TimeAmount = .seconds(60)
    static let maximumConnections = 64
    static let maximumRequestBodyBytes = 4096

    private let listener: Listener
    private let route: Route
    private let logger: Logger
    /// The address bound, as `host:port` (`[host]:port` for IPv6), with the system's port for 0.
    public let address: String

    private init(listener: Listener, route: @escaping Route, logger: Logger) {
        self.listener = listener
        self.route = route
        self.logger = logger
        let host = listener.localAddress?.ipAddress ?? "?"
        address = (host.contains(":") ? "[\(host)]" : host) + ":\(listener.port)"
    }

    /// Binds now, so that the port is known and taken before the node announces itself; `run`
    /// serves it.
    public static func bind(host: String, port: Int, logger: Logger, route: @escaping Route) async throws -> OperationsHTTPServer {
        let listener = try await Listener.bind(
            host: host, port: port, idleness: .nothingRead(idleTimeout), maximumConnections: maximumConnections,
            maximumBodyBytes: maximumRequestBodyBytes)
        return OperationsHTTPServer(listener: listener, route: route, logger: logger)
    }

    /// Serves until a graceful shutdown or cancellation, which closes the listening socket.
    public func run() async throws {
        try await listener.run { connection in await self.serve(connection) }
    }

    private func serve(_ connection: Listener.Connection) async {
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
