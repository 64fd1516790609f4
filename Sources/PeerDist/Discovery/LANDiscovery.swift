#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization
import NIOPosix
import PeerDistHashing
import PeerDistWire

/// Finds peers on the local link with IPv6 multicast: a node that needs content asks the group
/// `ff02::5044` on UDP port 7740, on every interface that is up and can multicast; nodes holding
/// it answer by unicast after a random 1–65 ms back-off (as BranchCache does), so a LAN with many
/// holders does not answer all at once.
public enum LANDiscovery {
    public static let group = "ff02::5044"
    public static let port = 7740
    static let maximumBackoffMilliseconds = 65
    /// How long a query collects answers after the first: the holders' back-off and some.
    public static let answerSettle: Duration = .milliseconds(80)
    static let rescanInterval: Duration = .seconds(2)
    /// How often a node says Hello again; peers forget it after three silent rounds (`PeerDirectory`).
    static let helloInterval: Double = 5 * 60

    typealias DatagramChannel = NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>

    /// The interfaces to use: up, multicast-capable, with an IPv6 link-local address; loopback excluded.
    static func interfaces() -> [NIONetworkDevice] {
        let devices = (try? System.enumerateDevices()) ?? []
        var seen = Set<Int>()
        return devices.filter { device in
            guard device.multicastSupported, device.name != "lo", case .v6 = device.address, seen.insert(device.interfaceIndex).inserted else {
                return false
            }
            return true
        }
    }

    /// Asks the LAN who holds the content with `discoveryKey`, collecting answers for `window`,
    /// or for `settle` after the first answer (holders answer within their 1–65 ms back-off, so
    /// a little longer catches nearly all of them; a fetch asks again later for any missed).
    public static func findHolders(
        of discoveryKey: HashValue, window: Duration = .milliseconds(400), settle: Duration = answerSettle, logger: Logger
    ) async throws -> [PeerAddress] {
        let devices = interfaces()
        guard !devices.isEmpty else { return [] }
        let channel: DatagramChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "::", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try DatagramChannel(wrappingChannelSynchronously: channel) }
            }
        let nonce = UInt64.random(in: .min ... .max)
        NodeInstruments.discoveryQueriesSent.increment()
        return try await channel.executeThenClose { inbound, outbound in
            for device in devices {
                // The scope picks the interface the query leaves by.
                let destination = try SocketAddress(ipAddress: "\(group)%\(device.name)", port: port)
                try await outbound.write(AddressedEnvelope(remoteAddress: destination, data: DiscoveryMessage.whoHas(nonce: nonce, discoveryKey: discoveryKey).encoded()))
            }
            return try await withThrowingTaskGroup(of: [PeerAddress].self) { group in
                let firstAnswer = FirstAnswer()
                group.addTask {
                    var holders: [PeerAddress] = []
                    for try await envelope in inbound {
                        guard case .have(nonce, discoveryKey, let port)? = DiscoveryMessage(decoding: envelope.data),
                              let host = scopedHost(envelope.remoteAddress)
                        else { continue }
                        let address = PeerAddress(host: host, port: Int(port))
                        NodeInstruments.discoveryAnswersReceived.increment()
                        if !holders.contains(address) { holders.append(address) }
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
                logger.debug("discovery", metadata: ["holders": "\(holders)"])
                return holders
            }
        }
    }

    /// Asks the link who registered the peer name with `nameKey`, collecting signed answers for
    /// `window`, or `settle` after the first; only answers whose signature holds are returned.
    static func findName(
        _ nameKey: HashValue, window: Duration = .milliseconds(500), settle: Duration = .milliseconds(120)
    ) async throws -> [(identity: PeerKey, record: [UInt8])] {
        let devices = interfaces()
        guard !devices.isEmpty else { return [] }
        let channel: DatagramChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "::", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try DatagramChannel(wrappingChannelSynchronously: channel) }
            }
        let nonce = UInt64.random(in: .min ... .max)
        return try await channel.executeThenClose { inbound, outbound in
            for device in devices {
                let destination = try SocketAddress(ipAddress: "\(group)%\(device.name)", port: port)
                try await outbound.write(AddressedEnvelope(remoteAddress: destination, data: DiscoveryMessage.whoIs(nonce: nonce, nameKey: nameKey).encoded()))
            }
            return try await withThrowingTaskGroup(of: [(identity: PeerKey, record: [UInt8])].self) { group in
                let firstAnswer = FirstAnswer()
                group.addTask {
                    var answers: [(identity: PeerKey, record: [UInt8])] = []
                    for try await envelope in inbound {
                        guard let message = DiscoveryMessage(decoding: envelope.data), message.isAuthentic,
                              case .nameIs(nonce, nameKey, let identity, let record, _) = message,
                              !answers.contains(where: { $0.identity == identity })
                        else { continue }
                        answers.append((identity, record))
                        firstAnswer.record()
                    }
                    return answers
                }
                let start = ContinuousClock.now
                while ContinuousClock.now - start < window {
                    if let first = firstAnswer.instant, ContinuousClock.now - first >= settle { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                channel.channel.close(promise: nil)
                return try await group.next() ?? []
            }
        }
    }

    /// The address as text, with `%interface` for a link-local IPv6 address, which is useless without it.
    static func scopedHost(_ address: SocketAddress) -> String? {
        guard let host = address.ipAddress else { return nil }
        guard case .v6(let v6) = address, v6.address.sin6_scope_id != 0 else { return host }
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(v6.address.sin6_scope_id, &name) != nil else { return host }
        let interface = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(host.split(separator: "%").first ?? Substring(host))%\(interface)"
    }

    /// Answers queries for content `isHeld` says this node holds, and keeps `directory` up to date
    /// with the nodes that announce themselves, until cancelled. The node says Hello on every
    /// interface when it starts, to each newcomer it hears and every `helloInterval`, so that
    /// others can forget a node killed before its Bye; and Bye when it stops. With
    /// `collaboration`, it also carries People Near Me's announcements both ways.
    static func answer(
        tcpPort: Int, identity: NodeIdentity, name: String, directory: PeerDirectory, isHeld: @escaping @Sendable (HashValue) -> Bool,
        announcements: HolderAnnouncements, collaboration: Collaboration? = nil,
        nameRecord: @escaping @Sendable (HashValue) -> [UInt8]? = { _ in nil }, logger: Logger
    ) async throws {
        // SO_REUSEADDR lets several nodes on one host share the port; each receives the multicast queries.
        let channel: DatagramChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "::", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try DatagramChannel(wrappingChannelSynchronously: channel) }
            }
        guard let multicast = channel.channel as? any MulticastChannel else { return }
        let membership = MulticastMembership(group: group, port: port)
        let hello = DiscoveryMessage.hello(from: identity, port: UInt16(tcpPort), name: name).encoded()
        let groups = await membership.joinNewInterfaces(multicast, logger: logger)
        // This socket only listens: what the node says goes out through `sender`.
        let sender = DatagramSender(logger: logger)
        defer { sender.close() }
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, _ in
                await sender.send(groups.map { AddressedEnvelope(remoteAddress: $0, data: hello) })
                try await withThrowingDiscardingTaskGroup { replies in
                    // Interfaces come and go: join (and greet) new ones as they appear.
                    replies.addTask {
                        try await membership.keepJoining(multicast, every: rescanInterval, logger: logger) { added in
                            await sender.send(added.map { AddressedEnvelope(remoteAddress: $0, data: hello) })
                        }
                    }
                    // Again now and then: a node that hears nothing from another for three rounds forgets it.
                    replies.addTask {
                        while true {
                            try await Task.sleep(for: .seconds(helloInterval))
                            await sender.send(membership.groupAddresses.map { AddressedEnvelope(remoteAddress: $0, data: hello) })
                        }
                    }
                    // People Near Me: this person's announcements, on every interface.
                    if let collaboration {
                        replies.addTask {
                            for await announcement in collaboration.nearMe.outgoing {
                                let message = DiscoveryMessage.nearMe(nonce: UInt64.random(in: .min ... .max), announcement: announcement).encoded()
                                await sender.send(membership.groupAddresses.map { AddressedEnvelope(remoteAddress: $0, data: message) })
                            }
                        }
                    }
                    // Content this node begins to hold, announced on every interface.
                    replies.addTask {
                        for await key in announcements.outgoing where isHeld(key) {
                            let have = DiscoveryMessage.have(nonce: announcements.instance, discoveryKey: key, port: UInt16(tcpPort)).encoded()
                            await sender.send(membership.groupAddresses.map { AddressedEnvelope(remoteAddress: $0, data: have) })
                        }
                    }
                    for try await envelope in inbound {
                        guard let message = DiscoveryMessage(decoding: envelope.data), message.isAuthentic else { continue }
                        let reply: ByteBuffer
                        // Answers go to the asker's socket; a Hello in return goes to the discovery
                        // port of the newcomer's host, since nodes say Hello from their sending socket.
                        var destination = envelope.remoteAddress
                        switch message {
                        case .whoHas(let nonce, let key):
                            NodeInstruments.discoveryQueriesReceived.increment()
                            guard isHeld(key) else { continue }
                            NodeInstruments.discoveryAnswersSent.increment()
                            reply = DiscoveryMessage.have(nonce: nonce, discoveryKey: key, port: UInt16(tcpPort)).encoded()
                        case .whoIs(let nonce, let key):
                            guard let record = nameRecord(key) else { continue }
                            reply = DiscoveryMessage.nameIs(from: identity, nonce: nonce, nameKey: key, record: record).encoded()
                        case .hello(_, let sender, let senderPort, let senderName, _) where sender != identity.publicKey:
                            guard let host = scopedHost(envelope.remoteAddress) else { continue }
                            let isNew = directory.heard(sender, name: senderName, address: PeerAddress(host: host, port: Int(senderPort)).description)
                            // A newcomer learns of this node without waiting for its next announcement.
                            guard isNew else { continue }
                            reply = hello
                            destination.port = port
                        case .bye(_, let sender, _) where sender != identity.publicKey:
                            directory.left(sender)
                            continue
                        case .nearMe(_, let announcement):
                            if let host = scopedHost(envelope.remoteAddress) { collaboration?.heardNearMe(announcement, from: host) }
                            continue
                        case .have(let nonce, let key, let senderPort) where nonce != announcements.instance:
                            // Answers to queries go to the asker's own socket: a Have here is an announcement.
                            if let host = scopedHost(envelope.remoteAddress) { announcements.heard(key, from: PeerAddress(host: host, port: Int(senderPort))) }
                            continue
                        default:
                            continue
                        }
                        let answer = AddressedEnvelope(remoteAddress: destination, data: reply)
                        replies.addTask {
                            try await Task.sleep(for: .milliseconds(Int.random(in: 1...maximumBackoffMilliseconds)))
                            await sender.send(answer)
                        }
                    }
                    // The socket closed: stop the rescans too, or the group would wait on them forever.
                    replies.cancelAll()
                }
            }
        } onCancel: {
            // Say goodbye on every interface, then close. The Bye goes out from both sockets: the
            // sending one may have been closed by an error, and a datagram may be lost; the
            // listening one is open until here, and an error on it no longer matters.
            let bye = DiscoveryMessage.bye(from: identity).encoded()
            let envelopes = membership.groupAddresses.map { AddressedEnvelope(remoteAddress: $0, data: bye) }
            let closing = channel.channel
            var sent = envelopes.map { closing.write($0) }
            closing.flush()
            if let alsoSent = sender.sendNow(envelopes) { sent.append(alsoSent) }
            EventLoopFuture.andAllComplete(sent, on: closing.eventLoop).whenComplete { _ in closing.close(promise: nil) }
        }
    }
}

/// When the first answer to a query arrived.
private final class FirstAnswer: Sendable {
    private let value = PThreadMutex<ContinuousClock.Instant?>(nil)

    func record() { value.withLock { $0 = $0 ?? .now } }
    var instant: ContinuousClock.Instant? { value.withLock { $0 } }
}
