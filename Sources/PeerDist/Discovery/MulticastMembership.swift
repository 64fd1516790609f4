import Logging
import NIOCore
import PeerDistHashing
import Synchronization

/// Keeps a UDP socket in a link-local IPv6 multicast group on every interface that can carry it
/// (`LANDiscovery.interfaces()`), joining each once, and again on interfaces that appear later:
/// laptops change networks, containers get their links after the node starts.
final class MulticastMembership: Sendable {
    let group: String
    let port: Int
    private let joined = PThreadMutex<[Int: SocketAddress]>([:])

    init(group: String, port: Int) {
        self.group = group
        self.port = port
    }

    /// Joins the group on interfaces not joined yet; returns the group's address scoped to each
    /// of them (`ff02::…%eth0`), where a datagram to the group on that interface goes.
    func joinNewInterfaces(_ channel: any MulticastChannel, logger: Logger) async -> [SocketAddress] {
        var added: [SocketAddress] = []
        for device in LANDiscovery.interfaces() where !contains(device.interfaceIndex) {
            do {
                try await channel.joinGroup(try SocketAddress(ipAddress: group, port: port), device: device).get()
                let address = try SocketAddress(ipAddress: "\(group)%\(device.name)", port: port)
                joined.withLock { $0[device.interfaceIndex] = address }
                added.append(address)
            } catch {
                logger.info("cannot join the multicast group", metadata: ["group": "\(group)", "interface": "\(device.name)", "error": "\(error)"])
            }
        }
        return added
    }

    /// Looks for new interfaces every `interval` until cancelled, handing the ones joined to `joined`.
    func keepJoining(
        _ channel: any MulticastChannel, every interval: Duration, logger: Logger,
        joined: @Sendable ([SocketAddress]) async throws -> Void = { _ in }
    ) async throws {
        while true {
            try await Task.sleep(for: interval)
            let added = await joinNewInterfaces(channel, logger: logger)
            if !added.isEmpty { try await joined(added) }
        }
    }

    func contains(_ interfaceIndex: Int) -> Bool { joined.withLock { $0[interfaceIndex] != nil } }

    /// The group's address on each interface joined.
    var groupAddresses: [SocketAddress] { joined.withLock { Array($0.values) } }
}
