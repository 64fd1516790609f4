import NIOCore
import NIOHTTP1
import NIOPosix
import PeerDistHTTP

/// One keep-alive HTTP/1.1 connection to a BranchCache peer's MS-PCCRR server: each exchange
/// POSTs one request message and reads one response message, in order.
///
/// HTTP is swift-nio's; the response body is capped at MS-PCCRR's largest response before it is
/// buffered, and anything but a 200 with a well-formed response message is an error.
public struct PCCRRConnection {
    typealias Channel = NIOAsyncChannel<NIOHTTPClientResponseFull, HTTPClientRequestPart>

    private var responses: NIOAsyncChannelInboundStream<NIOHTTPClientResponseFull>.AsyncIterator
    private let requests: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    /// The Host header: the address as XAddrs gave it.
    private let hostHeader: String

    /// Connects to `host:port`, runs `body` with the connection, and closes it. A peer that
    /// sends nothing for `idleTimeout` while an answer is awaited (or between requests) has the
    /// connection closed under it, which ends the exchange with an error.
    public static func withConnection<Result: Sendable>(
        host: String, port: Int, idleTimeout: TimeAmount = .seconds(30), _ body: (inout PCCRRConnection) async throws -> Result
    ) async throws -> Result {
        let channel: Channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try pipeline.addHandler(CloseOnIdleHandler())
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(NIOHTTPClientResponseAggregator(maxContentLength: 4 + PCCRR.Limits.maximumResponseBytes))
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
        let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return try await channel.executeThenClose { inbound, outbound in
            var connection = PCCRRConnection(responses: inbound.makeAsyncIterator(), requests: outbound, hostHeader: hostHeader)
            return try await body(&connection)
        }
    }

    /// Sends one request and waits for its response.
    public mutating func exchange(_ request: PCCRRMessage) async throws -> PCCRRMessage {
        let (status, body) = try await send(method: .POST, uri: PCCRR.path, body: request.encodedRequest())
        guard status == .ok else {
            throw BranchCacheError(.malformed, "the peer answered \(request.type) with HTTP \(status.code)")
        }
        return try PCCRRMessage(response: body)
    }

    /// Offers content to a hosted cache (MS-PCHC), which shares the MS-PCCRR port.
    public mutating func offer(_ message: PCHCMessage) async throws -> PCHCResponse {
        let (status, body) = try await send(method: .POST, uri: PCHCMessage.httpPath, body: message.encoded())
        guard status == .ok else { throw BranchCacheError(.malformed, "the hosted cache answered an offer with HTTP \(status.code)") }
        return try PCHCResponse(decoding: body.readableBytesView)
    }

    /// One HTTP request and its response, whatever they hold (tests send malformed ones).
    mutating func send(method: HTTPMethod, uri: String, body: [UInt8]) async throws -> (HTTPResponseStatus, ByteBuffer) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: hostHeader)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "keep-alive")
        try await requests.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)))
        if !body.isEmpty {
            try await requests.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
        }
        try await requests.write(.end(nil))
        guard let response = try await responses.next() else {
            throw BranchCacheError(.malformed, "the peer closed the connection before answering")
        }
        return (response.head.status, response.body ?? ByteBuffer())
    }
}
