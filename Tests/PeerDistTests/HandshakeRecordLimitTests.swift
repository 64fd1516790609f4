import Foundation
import NIOCore
import PeerDistHashing
import Testing
@testable import PeerDistWire

#if canImport(Glibc)
import Glibc
#endif

/// Before the handshake completes, a connection takes records no larger than the largest
/// handshake message: a stranger who has proved nothing cannot make the node buffer a quarter
/// MiB per connection for the length of the handshake timeout. Once keys are agreed, records up
/// to the full limit pass.
@Suite struct HandshakeRecordLimitTests {
    @Test func aRecordLargerThanAHandshakeMessageIsRefusedBeforeTheHandshake() async throws {
        let identity = NodeIdentity.generate()
        let listener = try await PeerNetwork.listen(host: "::1", port: 0, identity: identity)
        let port = try #require(listener.channel.localAddress?.port)
        let received = ReceivedMessages()
        let serving = Task {
            try await listener.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask {
                            try? await connection.channel.executeThenClose { inbound, _ in
                                _ = try await connection.established.get()
                                do {
                                    for try await message in inbound { received.append(message) }
                                } catch {
                                    received.fail(error)
                                }
                            }
                        }
                    }
                }
            }
        }
        defer { serving.cancel() }

        // A length the full limit allows, but no handshake message has: closed at once, long
        // before the 10 s handshake timeout, with none of the record's body sent or buffered.
        let started = ContinuousClock.now
        #expect(Self.closedAfterSending(port: port, Self.bigEndian(UInt32(RecordDecoder.maximumRecord)) + [UInt8](repeating: 7, count: 1000)))
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(Self.closedAfterSending(port: port, Self.bigEndian(UInt32(RecordDecoder.maximumHandshakeRecord + 1))))

        // After the handshake, a record well above the handshake's limit passes: 100 ranges.
        let ranges = (0..<UInt32(100)).map { BlockRange(index: $0 * 2, count: 1) }
        let request = PeerMessage.getBlocks(requestID: 1, segmentID: HashValue([UInt8](repeating: 9, count: 32)), ranges: ranges)
        let (channel, remote) = try await PeerNetwork.connect(host: "::1", port: port, identity: .generate())
        #expect(remote == identity.publicKey)
        try await channel.executeThenClose { _, outbound in
            try await outbound.write(request)
            let deadline = ContinuousClock.now + .seconds(10)
            while received.all.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(received.all == [request], "\(received.error.map { "\($0)" } ?? "")")
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// Connects over IPv6 loopback, sends `bytes` and reports whether the node closed the
    /// connection within 5 s.
    private static func closedAfterSending(port: Int, _ bytes: [UInt8]) -> Bool {
        let descriptor = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = UInt16(port).bigEndian
        address.sin6_addr = in6addr_loopback
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard connected == 0 else { return false }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }
}

private final class ReceivedMessages: @unchecked Sendable {
    // Safety: every access holds `lock`.
    private let lock = NSLock()
    private var messages: [PeerMessage] = []
    private var failure: (any Error)?

    func append(_ message: PeerMessage) { lock.withLock { messages.append(message) } }
    var all: [PeerMessage] { lock.withLock { messages } }
    func fail(_ error: any Error) { lock.withLock { failure = error } }
    var error: (any Error)? { lock.withLock { failure } }
}
