import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PeerDistHTTP
import ServiceLifecycle
import Synchronization

/// An HTTP/1.1 origin for the files under a directory that speaks MS-PCCRTP: a GET whose headers
/// ask for PeerDist (see `PeerDistRequest`) gets `Content-Encoding: peerdist` and the file's
/// Content Information instead of its bytes; any other GET, a Range request (206, one range) and
/// a `MissingDataRequest=true` get the bytes, streamed. Empty files always go as bytes: iPXE fails
/// on Content Information for them. Paths outside the directory, directories and anything but
/// GET and HEAD are refused. HTTP is swift-nio's (NIOHTTP1).
public final class PCCRTPOriginServer: Service, Sendable {
    typealias Listener = HTTPListener<HTTPServerRequestPart>
    /// Bytes of a file sent per write.
    static let chunkSize = 1 << 20
    /// Idle means neither reading nor writing: a plain download of a large file over a slow link
    /// sends for minutes while the client says nothing.
    static let idleTimeout: TimeAmount = .seconds(60)
    static let maximumConnections = 1024

    private let listener: Listener
    private let files: OriginFiles
    private let logger: Logger
    /// Bytes of files and of Content Information sent, for status and tests.
    public let sentBytes = Atomic<UInt64>(0)
    public var port: Int { listener.port }

    private init(listener: Listener, files: OriginFiles, logger: Logger) {
        self.listener = listener
        self.files = files
        self.logger = logger
    }

    public static func bind(host: String, port: Int, files: OriginFiles, logger: Logger) async throws -> PCCRTPOriginServer {
        let listener = try await Listener.bindStreaming(
            host: host, port: port, idleness: .nothingReadOrWritten(idleTimeout), maximumConnections: maximumConnections)
        return PCCRTPOriginServer(listener: listener, files: files, logger: logger)
    }

    public func run() async throws {
        try await listener.run { connection in await self.serve(connection) }
    }

    private func serve(_ connection: Listener.Connection) async {
        do {
            try await connection.executeThenClose { parts, replies in
                var head: HTTPRequestHead?
                for try await part in parts {
                    switch part {
                    case .head(let requestHead): head = requestHead
                    case .body: continue  // GET and HEAD carry none worth reading.
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        try await answer(request, replies: replies)
                        guard request.isKeepAlive else { return }
                    }
                }
            }
        } catch {
            logger.debug("origin connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func answer(_ request: HTTPRequestHead, replies: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: request.isKeepAlive ? "keep-alive" : "close")
        func reply(_ status: HTTPResponseStatus, _ body: [UInt8] = []) async throws {
            headers.add(name: "Content-Length", value: "\(body.count)")
            try await replies.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
            if request.method != .HEAD, !body.isEmpty { try await replies.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            try await replies.write(.end(nil))
        }
        guard request.method == .GET || request.method == .HEAD else {
            headers.add(name: "Allow", value: "GET, HEAD")
            return try await reply(.methodNotAllowed)
        }
        guard let (path, size) = files.resolve(request.uri) else { return try await reply(.notFound) }
        let peerDist = PeerDistRequest(headers: request.headers)
        let range = request.headers.first(name: "range")
        if let version = peerDist.contentInformationVersion, range == nil, size > 0 {
            let files = self.files
            let information = try await NIOThreadPool.singleton.runIfActive { try files.contentInformation(of: path, version: version) }
            headers.add(name: "Content-Encoding", value: "peerdist")
            headers.add(name: "X-P2P-PeerDist", value: "Version=1.0, ContentLength=\(size)")
            headers.add(name: "Content-Type", value: "application/octet-stream")
            sentBytes.add(UInt64(information.count), ordering: .relaxed)
            return try await reply(.ok, information)
        }
        headers.add(name: "Accept-Ranges", value: "bytes")
        var bytes: Range<UInt64> = 0..<size
        var status = HTTPResponseStatus.ok
        if let range {
            guard let asked = Self.byteRange(range, size: size) else {
                headers.add(name: "Content-Range", value: "bytes */\(size)")
                return try await reply(.rangeNotSatisfiable)
            }
            bytes = asked
            status = .partialContent
            headers.add(name: "Content-Range", value: "bytes \(asked.lowerBound)-\(asked.upperBound - 1)/\(size)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { return try await reply(.notFound) }
        defer { try? handle.close() }
        headers.add(name: "Content-Length", value: "\(bytes.count)")
        headers.add(name: "Content-Type", value: "application/octet-stream")
        try await replies.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
        if request.method == .GET {
            try handle.seek(toOffset: bytes.lowerBound)
            var remaining = bytes.count
            while remaining > 0 {
                guard let chunk = try handle.read(upToCount: min(Self.chunkSize, remaining)), !chunk.isEmpty else {
                    // The file shrank under us: the response cannot be completed honestly.
                    throw BranchCacheError(.notFound, "\(path) shrank while it was sent")
                }
                remaining -= chunk.count
                sentBytes.add(UInt64(chunk.count), ordering: .relaxed)
                try await replies.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
            }
        }
        try await replies.write(.end(nil))
    }

    /// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within the file; `nil` for anything else.
    static func byteRange(_ header: String, size: UInt64) -> Range<UInt64>? {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), !value.contains(",") else { return nil }
        let spec = value.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard spec.count == 2 else { return nil }
        if spec[0].isEmpty {
            guard let suffix = UInt64(spec[1]), suffix > 0, size > 0 else { return nil }
            return (size - min(suffix, size))..<size
        }
        guard let start = UInt64(spec[0]), start < size else { return nil }
        var end = size - 1
        if !spec[1].isEmpty {
            guard let last = UInt64(spec[1]), last >= start else { return nil }
            end = min(last, size - 1)
        }
        return start..<(end + 1)
    }
}
