import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
@testable import PeerDistHTTP

/// The listener every HTTP server of a node shares: requests reach the server whole, bodies over
/// the cap are refused before they are buffered, connections past the cap are closed as they
/// arrive, and an idle connection is closed.
@Suite struct HTTPListenerTests {
    /// A listener on loopback whose server answers every request with its body's size.
    private func withListener(
        maximumConnections: Int = 8, idleness: HTTPListener<NIOHTTPServerRequestFull>.Idleness = .nothingRead(.minutes(10)),
        _ body: (Int) async throws -> Void
    ) async throws {
        let listener = try await HTTPListener<NIOHTTPServerRequestFull>.bind(
            host: "127.0.0.1", port: 0, idleness: idleness, maximumConnections: maximumConnections, maximumBodyBytes: 100)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await listener.run { connection in
                    try? await connection.executeThenClose { requests, replies in
                        for try await request in requests {
                            let text = Array("\(request.body?.readableBytes ?? 0)".utf8)
                            var headers = HTTPHeaders()
                            headers.add(name: "Content-Length", value: "\(text.count)")
                            try await replies.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
                            try await replies.write(.body(.byteBuffer(ByteBuffer(bytes: text))))
                            try await replies.write(.end(nil))
                            guard request.head.isKeepAlive else { return }
                        }
                    }
                }
            }
            defer { group.cancelAll() }
            try await body(listener.port)
        }
    }

    /// A raw TCP connection: what it sends, and everything it reads until the server closes it
    /// or `wait` passes.
    private func exchange(port: Int, sending request: String, wait: TimeAmount = .seconds(60)) async throws -> (reply: String, closed: Bool) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            if !request.isEmpty { try await outbound.write(ByteBuffer(string: request)) }
            return try await withThrowingTaskGroup(of: (String, Bool)?.self) { group in
                group.addTask {
                    var reply = ""
                    for try await buffer in inbound { reply += String(buffer: buffer) }
                    return (reply, true)
                }
                group.addTask {
                    try await Task.sleep(for: .nanoseconds(wait.nanoseconds))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first ?? ("", false)
            }
        }
    }

    @Test func requestsArriveWholeAndLargeBodiesAreRefused() async throws {
        try await withListener { port in
            let small = try await exchange(port: port, sending: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            #expect(small.reply.hasPrefix("HTTP/1.1 200") && small.reply.hasSuffix("\r\n\r\n5"), "\(small.reply)")
            let large = try await exchange(port: port, sending: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" + String(repeating: "x", count: 101))
            #expect(large.reply.hasPrefix("HTTP/1.1 413"), "\(large.reply)")
        }
    }

    @Test func connectionsPastTheCapAreClosedAsTheyArrive() async throws {
        try await withListener(maximumConnections: 2) { port in
            // Two connections made first and held open (they send nothing), then a third: the
            // listener accepts in order, so the third is the one past the cap, closed at once.
            var held: [Channel] = []
            for _ in 0..<2 {
                held.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
            }
            let third = try await exchange(port: port, sending: "", wait: .seconds(60))
            #expect(third.closed, "the connection past the cap was kept")
            let stillOpen = held.allSatisfy { $0.isActive }
            #expect(stillOpen, "a connection within the cap was closed")
            for channel in held { try await channel.close() }
            // Once they are gone, a new one is served.
            var later = (reply: "", closed: false)
            for _ in 0..<50 where !later.reply.hasPrefix("HTTP/1.1 200") {
                later = try await exchange(port: port, sending: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if !later.reply.hasPrefix("HTTP/1.1 200") { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(later.reply.hasPrefix("HTTP/1.1 200"), "\(later.reply)")
        }
    }

    @Test func anIdleConnectionIsClosed() async throws {
        try await withListener(idleness: .nothingRead(.milliseconds(300))) { port in
            let idle = try await exchange(port: port, sending: "", wait: .seconds(60))
            #expect(idle.closed)
        }
    }
}
