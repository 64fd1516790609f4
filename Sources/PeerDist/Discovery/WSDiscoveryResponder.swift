#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization

/// Answers BranchCache discovery Probes (MS-PCCRD) for segments this node holds, so Windows
/// clients and iPXE on the link can find it: listens on UDP `[::]:3702`, in group `ff02::c` on
/// every interface that can multicast, and to a version 1 Probe listing at least one held segment
/// replies by unicast to the sender, after a random 1–65 ms back-off, with a ProbeMatch naming
/// the held segments, their block counts and the MS-PCCRR listener.
///
/// Silent otherwise: the port is shared with every WS-Discovery speaker on the LAN (printers,
/// Function Discovery, wsdd), so anything that is not a PeerDist Probe, a Probe from off the
/// link, or a Probe for nothing held, is dropped without a word.
public final class WSDiscoveryResponder: Sendable {
    /// Replies waiting out their back-off at most; a flood of probes beyond this is dropped.
    static let maximumPendingReplies = 64

    private let heldBlockCount: @Sendable (HashValue) -> Int
    private let transportPort: Int
    /// How version 2 replies pack their bits; see `PCCRDBitOrder`.
    private let version2BitOrder: PCCRDBitOrder
    /// Whether to answer for a segment at all (MS-PCCRD's damping; see `PCCRDDamping`).
    private let answersFor: @Sendable (HashValue) -> Bool
    let logger: Logger
    private let endpoint = WSDiscoveryProbeMatch.Endpoint.fresh()
    private let messageNumbers = Atomic<UInt64>(0)
    private let pendingReplies = Atomic<Int>(0)
    /// The host's interfaces, read again at each rescan rather than for every datagram.
    private let devices = PThreadMutex<[NIONetworkDevice]>([])
    /// Probes answered lately, so that a repeated copy is not answered again.
    private let recentProbes = PThreadMutex(RecentMessages())
    /// PeerDist Probes read, and ProbeMatches sent, over IPv6 and IPv4 alike.
    let probesReceived: Counter
    let probesAnswered: Counter

    /// - Parameters:
    ///   - heldBlockCount: how many blocks of the segment with this ID (HoHoDk) the node holds
    ///     and has verified; 0 when it holds none.
    ///   - transportPort: the port of the node's MS-PCCRR (HTTP) listener, advertised in XAddrs.
    ///   - probesReceived, probesAnswered: where Probes read and ProbeMatches sent are counted
    ///     (the node's metrics unless told).
    public init(
        heldBlockCount: @escaping @Sendable (HashValue) -> Int, transportPort: Int, logger: Logger,
        version2BitOrder: PCCRDBitOrder = .mostSignificantFirst, answersFor: @escaping @Sendable (HashValue) -> Bool = { _ in true },
        probesReceived: Counter? = nil, probesAnswered: Counter? = nil
    ) {
        self.probesReceived = probesReceived ?? NodeInstruments.branchCacheProbesReceived
        self.probesAnswered = probesAnswered ?? NodeInstruments.branchCacheProbesAnswered
        self.answersFor = answersFor
        self.heldBlockCount = heldBlockCount
        self.transportPort = transportPort
        self.version2BitOrder = version2BitOrder
        self.logger = logger
        refreshDevices()
    }

    /// Answers Probes on `[::]:3702` until cancelled.
    public static func answerProbes(
        heldBlockCount: @escaping @Sendable (HashValue) -> Int, port: Int, logger: Logger, version2BitOrder: PCCRDBitOrder = .mostSignificantFirst,
        answersFor: @escaping @Sendable (HashValue) -> Bool = { _ in true }
    ) async throws {
        try await WSDiscoveryResponder(
            heldBlockCount: heldBlockCount, transportPort: port, logger: logger, version2BitOrder: version2BitOrder, answersFor: answersFor
        ).run()
    }

    /// Answers Probes on `[::]:3702`, and on `239.255.255.250:3702` where the host has IPv4,
    /// until cancelled.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                do {
                    try await self.runIPv4(listeningOn: PCCRD.port)
                } catch {
                    // IPv4 is optional: the IPv6 responder serves on.
                    self.logger.info("BranchCache discovery over IPv4 is off", metadata: ["error": "\(error)"])
                }
            }
            try await run(listeningOn: PCCRD.port)
            group.cancelAll()
        }
    }

    typealias DatagramChannel = NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>

    /// Answers Probes on `port` (0 for any: tests) until cancelled; `bound` learns the port taken.
    func run(listeningOn port: Int, bound: @Sendable (Int) -> Void = { _ in }) async throws {
        // SO_REUSEADDR: the port is WS-Discovery's, and other daemons on this host (wsdd) may hold
        // it too; each socket joined to the group gets every multicast Probe.
        let channel: DatagramChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // NIO reads 2 KiB datagrams unless told; a Probe or ProbeMatch naming 64 segments is larger.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: WSDiscoveryProbe.maximumDatagramBytes))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.receivePacketInfo, value: true)
            .bind(host: "::", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try DatagramChannel(wrappingChannelSynchronously: channel) }
            }
        bound(channel.channel.localAddress?.port ?? port)
        guard let multicast = channel.channel as? any MulticastChannel else {
            try? await channel.channel.close()
            return
        }
        let membership = MulticastMembership(group: PCCRD.group, port: PCCRD.port)
        _ = await membership.joinNewInterfaces(multicast, logger: logger)
        do {
            try await serve(channel, multicast: multicast, membership: membership)
        } catch is CancellationError where Task.isCancelled {
            // Cancelled is how a responder is asked to stop: not a failure.
        }
    }

    private func serve(_ channel: DatagramChannel, multicast: any MulticastChannel, membership: MulticastMembership) async throws {
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingDiscardingTaskGroup { replies in
                    // Cancellation ends these quietly: `run` returns, rather than throws, when cancelled.
                    replies.addTask {
                        try? await membership.keepJoining(multicast, every: LANDiscovery.rescanInterval, logger: self.logger)
                    }
                    replies.addTask {
                        while (try? await Task.sleep(for: LANDiscovery.rescanInterval)) != nil {
                            self.refreshDevices()
                        }
                    }
                    for try await envelope in inbound {
                        guard let reply = reply(to: envelope) else { continue }
                        // Bounded: each pending reply is a sleeping task.
                        guard pendingReplies.add(1, ordering: .relaxed).newValue <= Self.maximumPendingReplies else {
                            pendingReplies.subtract(1, ordering: .relaxed)
                            logger.debug("PCCRD reply dropped: too many pending")
                            continue
                        }
                        replies.addTask {
                            defer { self.pendingReplies.subtract(1, ordering: .relaxed) }
                            await self.send(reply, to: envelope.remoteAddress, on: outbound)
                        }
                    }
                    // The socket closed: stop the rescans too, or the group would wait on them forever.
                    replies.cancelAll()
                }
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }

    /// Sends `reply` to `address` after MS-PCCRD's random back-off, and counts it: the one way
    /// out for the IPv6 and the IPv4 socket both.
    func send(_ reply: [UInt8], to address: SocketAddress, on outbound: NIOAsyncChannelOutboundWriter<AddressedEnvelope<ByteBuffer>>) async {
        do {
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...LANDiscovery.maximumBackoffMilliseconds)))
            try await outbound.write(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: reply)))
            probesAnswered.increment()
        } catch {
            // One unreachable prober must not stop the responder.
            logger.debug("PCCRD reply not sent", metadata: ["peer.address": "\(address)", "error": "\(error)"])
        }
    }

    /// The ProbeMatch for a datagram, or `nil` when it gets no answer.
    func reply(to envelope: AddressedEnvelope<ByteBuffer>) -> [UInt8]? {
        let probe: WSDiscoveryProbe
        do {
            probe = try WSDiscoveryProbe(parsing: envelope.data.readableBytesView)
        } catch {
            logger.trace("not a PeerDist probe", metadata: ["peer.address": "\(envelope.remoteAddress)", "reason": "\(error)"])
            return nil
        }
        probesReceived.increment()
        let devices = self.devices.withLock { $0 }
        guard let sender = Self.addressBytes(envelope.remoteAddress), Self.isOnLink(sender, devices: devices) else {
            logger.debug("PCCRD probe from off the link ignored", metadata: ["peer.address": "\(envelope.remoteAddress)"])
            return nil
        }
        if probe.version == .v2 {
            // A version 2 segment is one block: held at all is held whole.
            let states = probe.scopes.map { scope in heldBlockCount(scope.segmentID) > 0 && answersFor(scope.segmentID) }.map { (some: $0, all: $0) }
            guard states.contains(where: \.some) else { return nil }
            let interface = envelope.metadata?.packetInfo?.interfaceIndex ?? Self.interfaceIndex(of: envelope.remoteAddress, sender: sender, devices: devices)
            guard let interface, let host = Self.advertisedHost(onInterface: interface, devices: devices) else { return nil }
            guard isFirstCopy(of: probe, from: envelope.remoteAddress) else { return nil }
            logger.debug("answering PCCRD version 2 probe", metadata: ["peer.address": "\(envelope.remoteAddress)", "segments": "\(states.count)"])
            return WSDiscoveryProbeMatchV2(states: states, order: version2BitOrder).encoded(
                answering: probe, endpoint: endpoint, messageNumber: messageNumbers.add(1, ordering: .relaxed).newValue,
                transportAddress: "\(host):\(transportPort)")
        }
        let matches = probe.scopes.compactMap { scope -> WSDiscoveryProbeMatch.Match? in
            let count = heldBlockCount(scope.segmentID)
            guard count > 0, answersFor(scope.segmentID) else { return nil }
            return WSDiscoveryProbeMatch.Match(scope: scope.text, blockCount: UInt32(clamping: count))
        }
        guard !matches.isEmpty else { return nil }
        let interface = envelope.metadata?.packetInfo?.interfaceIndex ?? Self.interfaceIndex(of: envelope.remoteAddress, sender: sender, devices: devices)
        guard let interface, let host = Self.advertisedHost(onInterface: interface, devices: devices) else {
            logger.debug("PCCRD probe on an interface without an address to give", metadata: ["peer.address": "\(envelope.remoteAddress)"])
            return nil
        }
        guard isFirstCopy(of: probe, from: envelope.remoteAddress) else { return nil }
        let match = WSDiscoveryProbeMatch(
            answering: probe, matches: matches, endpoint: endpoint,
            messageNumber: messageNumbers.add(1, ordering: .relaxed).newValue, transportAddress: "\(host):\(transportPort)")
        logger.debug("answering PCCRD probe", metadata: ["peer.address": "\(envelope.remoteAddress)", "segments": "\(matches.count)"])
        return match.encoded()
    }

    /// SOAP-over-UDP sends a message more than once under one MessageID; receivers answer the first copy.
    private func isFirstCopy(of probe: WSDiscoveryProbe, from sender: SocketAddress) -> Bool {
        let first = recentProbes.withLock { $0.isNew("\(sender) \(probe.messageID)", at: .now) }
        if !first { logger.trace("repeated PCCRD probe ignored", metadata: ["peer.address": "\(sender)"]) }
        return first
    }

    private func refreshDevices() {
        let found = (try? System.enumerateDevices()) ?? []
        devices.withLock { $0 = found }
    }

    // MARK: Addresses

    /// The sender's address as 4 bytes (IPv4, including IPv4-mapped IPv6) or 16 bytes.
    static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
            return bytes.starts(with: mappedPrefix) ? Array(bytes[12...]) : bytes
        case .unixDomainSocket:
            return nil
        }
    }

    /// Whether the sender shares a link with this node: loopback, IPv6 link-local, or inside the
    /// prefix of one of the host's addresses. MS-PCCRD has peers ignore everything else, and a
    /// reply to anyone further away would let a forged source aim our replies across networks.
    static func isOnLink(_ sender: [UInt8], devices: [NIONetworkDevice]) -> Bool {
        if sender.count == 4, sender[0] == 127 { return true }
        if sender.count == 16 {
            if sender == Array(repeating: 0, count: 15) + [1] { return true }
            if sender[0] == 0xFE, sender[1] & 0xC0 == 0x80 { return true }
        }
        return devices.contains { device in
            guard let address = device.address.flatMap(addressBytes), let mask = device.netmask.flatMap(addressBytes),
                  address.count == sender.count, mask.count == sender.count
            else { return false }
            return zip(zip(address, mask), sender).allSatisfy { pair, byte in pair.0 & pair.1 == byte & pair.1 }
        }
    }

    /// The interface a datagram came in by, when the socket did not say: the sender's scope
    /// (link-local), else the interface whose prefix holds the sender.
    static func interfaceIndex(of source: SocketAddress, sender: [UInt8], devices: [NIONetworkDevice]) -> Int? {
        if case .v6(let v6) = source, v6.address.sin6_scope_id != 0 { return Int(v6.address.sin6_scope_id) }
        return devices.first { device in
            guard let address = device.address.flatMap(addressBytes), let mask = device.netmask.flatMap(addressBytes),
                  address.count == sender.count, mask.count == sender.count
            else { return false }
            return zip(zip(address, mask), sender).allSatisfy { pair, byte in pair.0 & pair.1 == byte & pair.1 }
        }?.interfaceIndex
    }

    /// The host part of XAddrs for replies on this interface. MS-PCCRD documents only IPv4
    /// (`157.59.141.183:54321`), so the interface's IPv4 address comes first; without one, an
    /// IPv6 address in brackets, global before link-local (whose zone means nothing to the
    /// receiver, so none is written).
    static func advertisedHost(onInterface index: Int, devices: [NIONetworkDevice]) -> String? {
        let addresses = devices.filter { $0.interfaceIndex == index }.compactMap(\.address)
        if let v4 = addresses.first(where: { if case .v4 = $0 { true } else { false } }) { return v4.ipAddress }
        let v6 = addresses.filter { if case .v6 = $0 { true } else { false } }
        let preferred = v6.first { address in
            guard let bytes = addressBytes(address), bytes.count == 16 else { return false }
            return !(bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80)
        } ?? v6.first
        guard let host = preferred?.ipAddress else { return nil }
        return "[\(host.split(separator: "%").first ?? Substring(host))]"
    }
}
