import Logging
import Metrics
import NIOCore
import NIOHTTP1
import PeerDistHTTP
import ServiceLifecycle
import Synchronization

/// The MS-PCCRR retrieval server: HTTP/1.1 on a TCP port, one request message per POST body to
/// `/116B50EB-ECE2-41ac-8429-9F9E963361B7/`, one response per reply, connections kept alive.
///
/// HTTP is swift-nio's (NIOHTTP1): its parser, and its aggregator that caps a body at MS-PCCRR's
/// largest request before it is buffered (413 and the connection closed beyond that). Anything
/// but a well-formed request on the path gets an HTTP error status (400, 404, 405) and the
/// connection serves on; one client's failure never reaches another's. Connections idle for
/// longer than `idleTimeout` are closed, so held sockets cannot pile up.
public final class PCCRRServer: Service, Sendable {
    /// MS-PCCRR's default Active Client Count: requests served at once before replies go empty.
    public static let defaultActiveClientLimit = 64
    /// Connections open at once at most; more are closed as they arrive.
    static let maximumConnections = 1024
    /// MS-PCCRR requests answered and the bytes of the answers (blocks, encrypted), through
    /// swift-metrics: one count per request, not per block.
    static let requestsServed = Counter(label: "peerdist_branchcache_requests_total")
    static let responseBytesSent = Counter(label: "peerdist_branchcache_response_bytes_total")
    /// Windows closes an upload after 15 s; an idle keep-alive connection gets a little longer.
    public static let defaultIdleTimeout: TimeAmount = .seconds(30)

    typealias Listener = HTTPListener<NIOHTTPServerRequestFull>

    private let listener: Listener
    private let responder: PCCRRResponder
    /// Offers from a branch's clients (MS-PCHC), answered on the same port when this node is
    /// their hosted cache.
    private let hostedCache: HostedCache?
    private let activeClientLimit: Int
    private let logger: Logger
    private let activeRequests = Atomic<Int>(0)
    /// The port bound (the one asked for, or the system's choice for 0).
    public var port: Int { listener.port }

    private init(listener: Listener, responder: PCCRRResponder, hostedCache: HostedCache?, activeClientLimit: Int, logger: Logger) {
        self.listener = listener
        self.responder = responder
        self.hostedCache = hostedCache
        self.activeClientLimit = activeClientLimit
        self.logger = logger
    }

    /// Binds the listening socket now, so the port is known (and taken) before the node
    /// announces itself; `run` serves it.
    public static func bind(
        host: String = "::", port: Int, responder: PCCRRResponder, hostedCache: HostedCache? = nil,
        activeClientLimit: Int = defaultActiveClientLimit, idleTimeout: TimeAmount = defaultIdleTimeout, logger: Logger
    ) async throws -> PCCRRServer {
        let listener = try await Listener.bind(
            host: host, port: port, idleness: .nothingRead(idleTimeout), maximumConnections: maximumConnections,
            maximumBodyBytes: PCCRR.Limits.maximumRequestBytes)
        return PCCRRServer(listener: listener, responder: responder, hostedCache: hostedCache, activeClientLimit: activeClientLimit, logger: logger)
    }

    /// Serves until a graceful shutdown or cancellation, which closes the listening socket.
    public func run() async throws {
        try await listener.run { connection in await self.serve(connection) }
    }

    private func serve(_ connection: Listener.Connection) async {
        let peer = "\(connection.channel.remoteAddress.map { "\($0)" } ?? "?")"
        do {
            try await connection.executeThenClose { requests, replies in
                for try await request in requests {
                    let (status, body) = answer(request, from: connection.channel.remoteAddress)
                    Self.requestsServed.increment()
                    Self.responseBytesSent.increment(by: body.count)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: "\(body.count)")
                    headers.add(name: "Connection", value: request.head.isKeepAlive ? "keep-alive" : "close")
                    try await replies.write(.head(HTTPResponseHead(version: request.head.version, status: status, headers: headers)))
                    try await replies.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                    try await replies.write(.end(nil))
                    guard request.head.isKeepAlive else { return }
                }
            }
        } catch {
            // Resets, idle closes and HTTP errors end one connection, never the server.
            logger.debug("PCCRR connection ended", metadata: ["peer.address": "\(peer)", "error": "\(error)"])
        }
    }

    /// The status and body for one request: the MS-PCCRR response, or an error status.
    func answer(_ request: NIOHTTPServerRequestFull, from client: SocketAddress? = nil) -> (HTTPResponseStatus, [UInt8]) {
        guard request.head.method == .POST else { return (.methodNotAllowed, []) }
        if let hostedCache, request.head.uri.lowercased() == PCHCMessage.httpPath.lowercased() {
            return hostedCache.answer(request.body ?? ByteBuffer(), from: client)
        }
        // Windows' path is mixed case; python-peerdist matches it without regard to case.
        guard request.head.uri.lowercased() == PCCRR.path.lowercased() else { return (.notFound, []) }
        let busy = activeRequests.add(1, ordering: .relaxed).newValue > activeClientLimit
        defer { activeRequests.subtract(1, ordering: .relaxed) }
        do {
            return (.ok, try responder.respond(toRequest: request.body ?? ByteBuffer(), busy: busy))
        } catch {
            logger.debug("malformed PCCRR request", metadata: ["error": "\(error)"])
            return (.badRequest, [])
        }
    }
}
