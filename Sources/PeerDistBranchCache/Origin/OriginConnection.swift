import NIOCore
import NIOHTTP1
import NIOPosix
import PeerDistHTTP

/// A keep-alive HTTP/1.1 connection to an origin web server, as a BranchCache client uses it:
/// one GET asking for Content Information (MS-PCCRTP), then Range requests for what peers lack,
/// marked `MissingDataRequest=true`. Bodies are handed over as they arrive, so a declined request
/// (the whole file) streams instead of filling memory.
public struct OriginConnection {
    typealias Channel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// The headers iPXE sends: Content Information version 1 or 2.
    public static let peerDistHeaders = [
        ("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=1.1"),
        ("X-P2P-PeerDistEx", "MinContentInformation=1.0, MaxContentInformation=2.0"),
    ]
    /// Most Content Information accepted: a version 1 blob for 64 GiB of content.
    public static let maximumContentInformationBytes = 64 << 20

    private var responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let requests: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private let hostHeader: String

    public static func withConnection<Result: Sendable>(
        host: String, port: Int, idleTimeout: TimeAmount = .seconds(30), _ body: (inout OriginConnection) async throws -> Result
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
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
        let hostHeader = host.contains(":") ? "[\(host.split(separator: "%").first ?? "")]:\(port)" : "\(host):\(port)"
        return try await channel.executeThenClose { inbound, outbound in
            var connection = OriginConnection(responses: inbound.makeAsyncIterator(), requests: outbound, hostHeader: hostHeader)
            return try await body(&connection)
        }
    }

    /// GETs `path`; `body` gets the response's head with each part of its body as it arrives.
    /// Returns the response head.
    public mutating func get(
        _ path: String, headers extra: [(String, String)] = [], body: (HTTPResponseHead, ByteBuffer) throws -> Void
    ) async throws -> HTTPResponseHead {
        var headers = HTTPHeaders([("Host", hostHeader), ("Connection", "keep-alive")])
        headers.add(contentsOf: extra)
        try await requests.write(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)))
        try await requests.write(.end(nil))
        var head: HTTPResponseHead?
        while let part = try await responses.next() {
            switch part {
            case .head(let received): head = received
            case .body(let bytes):
                guard let head else { throw BranchCacheError(.malformed, "the origin sent a body before its head") }
                try body(head, bytes)
            case .end:
                guard let head else { throw BranchCacheError(.malformed, "the origin ended a response it never began") }
                return head
            }
        }
        throw BranchCacheError(.malformed, "the origin closed the connection mid-response")
    }

    /// Bytes `range` of `path`, asked as missing data (peers lacked them).
    public mutating func missingData(_ path: String, range: Range<UInt64>) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(range.count)
        let limit = range.count
        let head = try await get(path, headers: [
            ("X-P2P-PeerDist", "Version=1.1, MissingDataRequest=true"), ("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"),
        ]) { _, part in
            guard bytes.count + part.readableBytes <= limit else {
                throw BranchCacheError(.malformed, "the origin sent more than the \(limit) bytes asked")
            }
            bytes.append(contentsOf: part.readableBytesView)
        }
        guard head.status == .partialContent || (head.status == .ok && range.lowerBound == 0) else {
            throw BranchCacheError(.malformed, "the origin answered a range request with HTTP \(head.status.code)")
        }
        return bytes
    }
}
