import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization

extension WSDiscoveryResponder {
    /// MS-PCCRD's IPv4 group: Windows and iPXE probe it beside `ff02::c`.
    static let ipv4Group = "239.255.255.250"

    /// Answers Probes sent to `239.255.255.250:3702` (or `port`, for tests) until cancelled, as
    /// `run(listeningOn:)` answers IPv6 ones: the same replies, checks and back-off. The group is
    /// joined on every interface with an IPv4 address that can multicast, and again on those that
    /// appear later. A host without IPv4 has nothing to join; the IPv6 responder serves on.
    func runIPv4(listeningOn port: Int, bound: @Sendable (Int) -> Void = { _ in }) async throws {
        let channel: DatagramChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // NIO reads 2 KiB datagrams unless told; a Probe or ProbeMatch naming 64 segments is larger.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: WSDiscoveryProbe.maximumDatagramBytes))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.receivePacketInfo, value: true)
            .bind(host: "0.0.0.0", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try DatagramChannel(wrappingChannelSynchronously: channel) }
            }
        bound(channel.channel.localAddress?.port ?? port)
        guard let multicast = channel.channel as? any MulticastChannel else {
            try? await channel.channel.close()
            return
        }
        let state = IPv4ResponderState()
        let logger = self.logger
        @Sendable func joinNew() async {
            let devices = ((try? System.enumerateDevices()) ?? []).filter { device in
                guard device.multicastSupported, device.name != "lo", case .v4 = device.address else { return false }
                return !state.joined.withLock { $0.contains(device.interfaceIndex) }
            }
            for device in devices {
                do {
                    try await multicast.joinGroup(try SocketAddress(ipAddress: Self.ipv4Group, port: port), device: device).get()
                    state.joined.withLock { _ = $0.insert(device.interfaceIndex) }
                } catch {
                    logger.info("cannot join the multicast group", metadata: ["group": "\(Self.ipv4Group)", "interface": "\(device.name)", "error": "\(error)"])
                }
            }
        }
        await joinNew()
        do {
            try await withTaskCancellationHandler {
                try await channel.executeThenClose { inbound, outbound in
                    try await withThrowingDiscardingTaskGroup { replies in
                        replies.addTask {
                            while (try? await Task.sleep(for: LANDiscovery.rescanInterval)) != nil { await joinNew() }
                        }
                        for try await envelope in inbound {
                            guard let reply = reply(to: envelope) else { continue }
                            guard state.pending.add(1, ordering: .relaxed).newValue <= Self.maximumPendingReplies else {
                                state.pending.subtract(1, ordering: .relaxed)
                                continue
                            }
                            replies.addTask {
                                defer { state.pending.subtract(1, ordering: .relaxed) }
                                await self.send(reply, to: envelope.remoteAddress, on: outbound)
                            }
                        }
                        replies.cancelAll()
                    }
                }
            } onCancel: {
                channel.channel.close(promise: nil)
            }
        } catch is CancellationError where Task.isCancelled {
        }
    }
}

/// What the IPv4 responder's tasks share: the interfaces joined, and replies waiting.
private final class IPv4ResponderState: Sendable {
    let joined = PThreadMutex<Set<Int>>([])
    let pending = Atomic<Int>(0)
}
