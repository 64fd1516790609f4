import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization

/// Finds BranchCache holders of a content's segments the way Windows and iPXE do: a version 1
/// MS-PCCRD Probe to `[ff02::c]:3702` on every interface that can multicast, and the MS-PCCRR
/// addresses (XAddrs) of the ProbeMatches that answer it within the window.
enum BranchCacheHolderLookup {
    /// Segments named in one Probe at most: a holder of a content's first segments is asked for
    /// the rest by block lists, and a Probe must stay one datagram.
    static let maximumProbedSegments = 64

    /// Holders answering for any of `segmentIDs`; replies from this host's own MS-PCCRR server
    /// (`ownPort`) are left out, as is anything that is not a ProbeMatch for this Probe.
    ///
    /// The replies are counted per segment into `damping`, which decides whether this node
    /// answers others' probes for those segments.
    static func findHolders(
        of segments: [SegmentDescription], ownPort: Int?, damping: PCCRDDamping? = nil,
        window: Duration = .milliseconds(300), settle: Duration = .milliseconds(80), logger: Logger
    ) async -> [PeerAddress] {
        let devices = LANDiscovery.interfaces()
        guard !devices.isEmpty, !segments.isEmpty else { return [] }
        let probed = Array(segments.prefix(maximumProbedSegments))
        let probe = WSDiscoveryProbe.version1(segmentIDs: probed.map(\.segmentID))
        let tally = ReplyTally()
        let ownAddresses = Set(((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress })
        do {
            let channel: LANDiscovery.DatagramChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                // NIO reads 2 KiB datagrams unless told; a Probe or ProbeMatch naming 64 segments is larger.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: WSDiscoveryProbe.maximumDatagramBytes))
                .bind(host: "::", port: 0) { channel in
                    channel.eventLoop.makeCompletedFuture { try LANDiscovery.DatagramChannel(wrappingChannelSynchronously: channel) }
                }
            return try await channel.executeThenClose { inbound, outbound in
                for device in devices {
                    // The scope picks the interface the Probe leaves by.
                    let destination = try SocketAddress(ipAddress: "\(PCCRD.group)%\(device.name)", port: PCCRD.port)
                    try await outbound.write(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: probe.encoded())))
                }
                return try await withThrowingTaskGroup(of: [PeerAddress].self) { group in
                    let firstAnswer = FirstReply()
                    group.addTask {
                        var holders: [PeerAddress] = []
                        for try await envelope in inbound {
                            guard let reply = try? WSDiscoveryReply(parsing: envelope.data.readableBytesView), reply.relatesTo == probe.messageID,
                                  let holder = holder(reply, from: envelope.remoteAddress)
                            else { continue }
                            if let ownPort, holder.port == ownPort, let sender = envelope.remoteAddress.ipAddress,
                               ownAddresses.contains(sender) || sender == "::1" || sender == "127.0.0.1" {
                                continue
                            }
                            if !holders.contains(holder) {
                                holders.append(holder)
                                tally.add(reply)
                            }
                            firstAnswer.record()
                        }
                        return holders
                    }
                    let start = ContinuousClock.now
                    while ContinuousClock.now - start < window {
                        if let first = firstAnswer.instant, ContinuousClock.now - first >= settle { break }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    channel.channel.close(promise: nil)
                    let holders = try await group.next() ?? []
                    if let damping {
                        for segment in probed {
                            let (replies, full) = tally.counts(segment)
                            damping.record(segment.segmentID, replies: replies, fullReplies: full)
                        }
                    }
                    logger.debug("BranchCache discovery", metadata: ["holders": "\(holders)"])
                    return holders
                }
            }
        } catch {
            logger.debug("BranchCache discovery failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// The MS-PCCRR address a reply names. A link-local IPv6 host means nothing without its
    /// interface, which XAddrs cannot carry: it is the one the reply came in by.
    static func holder(_ reply: WSDiscoveryReply, from sender: SocketAddress) -> PeerAddress? {
        guard var address = PeerAddress(parsing: reply.transportAddress), address.port > 0 else { return nil }
        if address.host.lowercased().hasPrefix("fe80:"), !address.host.contains("%"),
           let scoped = LANDiscovery.scopedHost(sender), let zone = scoped.split(separator: "%").dropFirst().first {
            address = PeerAddress(host: "\(address.host)%\(zone)", port: address.port)
        }
        return address
    }
}

/// When the first reply to a Probe arrived.
private final class FirstReply: Sendable {
    private let value = PThreadMutex<ContinuousClock.Instant?>(nil)

    func record() { value.withLock { $0 = $0 ?? .now } }
    var instant: ContinuousClock.Instant? { value.withLock { $0 } }
}

/// The replies to one probe, per segment: how many holders answered for it, and how many hold
/// all of its blocks.
private final class ReplyTally: Sendable {
    private let replies = PThreadMutex<[WSDiscoveryReply]>([])

    func add(_ reply: WSDiscoveryReply) { replies.withLock { $0.append(reply) } }

    func counts(_ segment: SegmentDescription) -> (replies: Int, full: Int) {
        replies.withLock { replies in
            let counts = replies.compactMap { $0.segments[segment.segmentID] }
            return (counts.count, counts.filter { $0 >= segment.blockCount }.count)
        }
    }
}
