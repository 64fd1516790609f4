import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization

/// Sends LAN discovery's datagrams (Hellos, answers, announcements) from a socket of their own,
/// apart from the one that listens on the discovery port.
///
/// NIO closes a UDP socket when the kernel reports an error on it (an ICMP "unreachable" for a
/// datagram sent to a host that vanished, say). Were the listening socket to send, one reply to
/// a departed peer could leave the node deaf to the LAN; a sending socket that dies is opened
/// again for the next datagram, and a datagram that cannot be sent is dropped, as UDP allows.
final class DatagramSender: Sendable {
    private let channel = PThreadMutex<(any Channel)?>(nil)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func send(_ envelopes: [AddressedEnvelope<ByteBuffer>]) async {
        guard !envelopes.isEmpty, let channel = await open() else { return }
        for envelope in envelopes { channel.write(envelope, promise: nil) }
        channel.flush()
    }

    func send(_ envelope: AddressedEnvelope<ByteBuffer>) async {
        await send([envelope])
    }

    /// Sends on the socket already open, if any, without waiting: for the goodbye of a node
    /// being cancelled, which cannot wait for a socket to open.
    func sendNow(_ envelopes: [AddressedEnvelope<ByteBuffer>]) -> EventLoopFuture<Void>? {
        guard let channel = channel.withLock({ $0 }), channel.isActive else { return nil }
        let writes = envelopes.map { channel.write($0) }
        channel.flush()
        return EventLoopFuture.andAllComplete(writes, on: channel.eventLoop)
    }

    func close() {
        channel.withLock { channel in
            channel?.close(promise: nil)
            channel = nil
        }
    }

    /// The sending socket, opened (again) when there is none or NIO closed it.
    private func open() async -> (any Channel)? {
        if let current = channel.withLock({ $0 }), current.isActive { return current }
        do {
            let opened = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "::", port: 0).get()
            let kept = channel.withLock { channel -> any Channel in
                if let current = channel, current.isActive { return current }
                channel = opened
                return opened
            }
            if kept !== opened { opened.close(promise: nil) }
            return kept
        } catch {
            logger.debug("cannot open a socket to send discovery datagrams", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
