import Foundation
import NIOCore
import NIOPosix

/// An established, authenticated and encrypted connection to a peer.
public typealias PeerChannel = NIOAsyncChannel<PeerMessage, PeerMessage>

/// Opens and accepts PeerDist connections over TCP, IPv6 first: the pipeline is record framing,
/// the secure channel (handshake, then AEAD records) and the message codec.
public enum PeerNetwork {
    public struct Connection: Sendable {
        public let channel: PeerChannel
        /// Completes with the peer's identity once the handshake has succeeded.
        public let established: EventLoopFuture<PeerKey>
    }

    /// An accepted connection's records have a deadline, and `unfinished` is the budget for
    /// records begun and not finished that the connections of its listener share. A connection
    /// this node opened has neither: it reads only as fast as it handles what arrived (a fetch
    /// under `--max-download` may leave a record half read for long), and whoever uses it gives
    /// up on a silent peer (the fetch's watchdog).
    static func configure(_ channel: any Channel, isClient: Bool, identity: NodeIdentity, unfinished: UnfinishedRecords? = nil) -> EventLoopFuture<Connection> {
        channel.eventLoop.makeCompletedFuture {
            let established = channel.eventLoop.makePromise(of: PeerKey.self)
            let operations = channel.pipeline.syncOperations
            let decoder = RecordDecoder(deadline: isClient ? nil : RecordDecoder.recordDeadline, unfinished: unfinished)
            try operations.addHandler(ByteToMessageHandler(decoder))
            try operations.addHandler(SecureChannelHandler(isClient: isClient, identity: identity, established: established, decoder: decoder))
            try operations.addHandler(PeerMessageCodec())
            let wrapped = try PeerChannel(wrappingChannelSynchronously: channel)
            return Connection(channel: wrapped, established: established.futureResult)
        }
    }

    /// Reads of up to 256 KiB while a peer sends fast: with NIO's default of 64 KiB, a record
    /// carrying a 64 KiB block never fits one read, so the framing copied nearly every byte it
    /// received into its buffer to join the pieces (a tenth of a CPU-second per GiB here).
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)

    /// Connects to `host` (an IPv6 address, optionally `%interface`-scoped, an IPv4 address or a
    /// name) and completes the handshake.
    public static func connect(
        host: String, port: Int, identity: NodeIdentity, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> (channel: PeerChannel, remote: PeerKey) {
        let connection: Connection
        do {
            connection = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.recvAllocator, value: receiveBuffers)
                .connect(host: host, port: port) { channel in
                    configure(channel, isClient: true, identity: identity)
                }
        } catch {
            throw WireError(.unreachable, "cannot connect: \(describeConnectFailure(error))")
        }
        do {
            return (connection.channel, try await connection.established.get())
        } catch {
            // Closing through executeThenClose finishes the channel's writer, as NIO requires.
            try? await connection.channel.executeThenClose { _, _ in }
            throw error
        }
    }

    /// A connection failure in a few words: "Connection refused", "timed out after 10 s".
    static func describeConnectFailure(_ error: any Error) -> String {
        if let failure = error as? NIOConnectionError {
            if let first = failure.connectionErrors.first { return describeConnectFailure(first.error) }
            if let resolution = failure.dnsAAAAError ?? failure.dnsAError { return "cannot resolve the host (\(resolution))" }
            return "no address to connect to"
        }
        if let failure = error as? IOError { return String(cString: strerror(failure.errnoCode)) }
        if case ChannelError.connectTimeout(let amount) = error { return "timed out after \(amount.nanoseconds / 1_000_000_000) s" }
        return "\(error)"
    }

    /// Listens for peers; each accepted connection still has to finish its handshake. A record
    /// must arrive whole within `RecordDecoder.recordDeadline` of its first byte, and the records
    /// the connections have begun and not finished share one `UnfinishedRecords` budget.
    public static func listen(
        host: String, port: Int, identity: NodeIdentity, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NIOAsyncChannel<Connection, Never> {
        let unfinished = UnfinishedRecords()
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: receiveBuffers)
            .bind(host: host, port: port) { channel in
                configure(channel, isClient: false, identity: identity, unfinished: unfinished)
            }
    }
}
