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
    private func exchange(port: Int, sending request: String, wait: TimeAmount = .seconds(5)) async throws -> (reply: String, closed: Bool) {
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
            // Two held open (they send nothing), then a third that the listener closes at once.
            let held = (0..<2).map { _ in Task { try await exchange(port: port, sending: "", wait: .seconds(3)) } }
            try await Task.sleep(for: .milliseconds(300))
            let third = try await exchange(port: port, sending: "", wait: .seconds(2))
            #expect(third.closed, "the connection past the cap was kept")
            for task in held {
                let result = try await task.value
                #expect(!result.closed, "a connection within the cap was closed")
            }
            // Once they are gone, a new one is served.
            let later = try await exchange(port: port, sending: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(later.reply.hasPrefix("HTTP/1.1 200"), "\(later.reply)")
        }
    }

    @Test func anIdleConnectionIsClosed() async throws {
        try await withListener(idleness: .nothingRead(.milliseconds(300))) { port in
            let idle = try await exchange(port: port, sending: "", wait: .seconds(10))
            #expect(idle.closed)
        }
    }
}
