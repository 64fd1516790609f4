import Foundation
import Logging
import NIOCore
import NIOPosix
import PeerDistDHT
import PeerDistHashing
import ServiceLifecycle

/// The node's part in BitTorrent's Mainline DHT (`serve --global`): holders of content and
/// mirrors announce them under keys derived from their discovery keys (`ContentKeys`), and
/// fetches and followers that find nobody on the LAN look there.
extension PeerNode {
    /// How a node joins the DHT.
    public struct DHTSettings: Sendable {
        /// `host:port` or `[address]:port` of the nodes to join through; `nil` for those in the
        /// data directory's `dht-bootstrap` file (one a line, `#` comments), else the well-known routers.
        public var bootstrap: [String]?
        /// UDP port; `nil` for BitTorrent's customary 6881, or any free port when that is taken.
        /// (Not the peer port's number: LAN discovery has UDP 7740.)
        public var port: Int?

        public init(bootstrap: [String]? = nil, port: Int? = nil) {
            self.bootstrap = bootstrap
            self.port = port
        }
    }

    static let dhtStateFileName = "dht-state.json"
    static let dhtBootstrapFileName = "dht-bootstrap"

    /// The entries of the data directory's `dht-bootstrap` file, if it has any.
    static func configuredBootstrap(in dataDirectory: DataDirectory) -> [String]? {
        guard let text = try? String(contentsOfFile: "\(dataDirectory.path)/\(dhtBootstrapFileName)", encoding: .utf8) else { return nil }
        let entries = text.split(separator: "\n").map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return entries.isEmpty ? nil : entries
    }

    static func makeDHT(_ settings: DHTSettings?, listen: PeerAddress?, dataDirectory: DataDirectory, logger: Logger) -> DHTNode? {
        guard let settings else { return nil }
        var configuration = DHTNode.Configuration()
        configuration.bootstrap = settings.bootstrap ?? configuredBootstrap(in: dataDirectory) ?? DHTNode.Configuration.wellKnownRouters
        configuration.port = settings.port ?? DHTNode.Configuration.defaultPort
        configuration.fallbackToAnyPort = settings.port == nil
        configuration.stateFile = "\(dataDirectory.path)/\(dhtStateFileName)"
        return DHTNode(configuration: configuration, logger: logger)
    }

    /// The DHT node and the announcer of what this node holds, as parts that may fail without
    /// taking the node down.
    func dhtServices(peerPort: Int) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        guard let dht else { return [] }
        let node = OptionalPartService(name: "Mainline DHT", logger: logger, restarts: true) {
            try await dht.run()
        }
        let announcer = OptionalPartService(name: "DHT announcements", logger: logger, restarts: true) {
            await self.announceHeldContent(on: dht, port: UInt16(peerPort))
        }
        let names = OptionalPartService(name: "DHT names", logger: logger, restarts: true) {
            await self.refreshNames()
        }
        return [node, announcer, names].map { .init(service: $0, successTerminationBehavior: .ignore, serviceName: $0.name) }
    }

    /// What this node may say it holds on the DHT: content and mirror versions that are not
    /// private (private ones are never mentioned outside their audience).
    func publiclyHeldDiscoveryKeys() -> [HashValue] {
        var keys: [HashValue] = []
        for entry in store.entries() where entry.heldBytes > 0 && !entry.isStale && collaboration.audience(ofContent: entry.contentID) == nil {
            let key = entry.contentID.discoveryKey
            if !keys.contains(key) { keys.append(key) }
        }
        for key in mirrors.heldDiscoveryKeys() where collaboration.audience(ofMirror: key) == nil && !keys.contains(key) {
            keys.append(key)
        }
        return keys
    }

    /// Announces each publicly held content and mirror as soon as it is held and every 15
    /// minutes after (BEP 5 peers expire after 30), once the DHT has nodes to tell.
    private func announceHeldContent(on dht: DHTNode, port: UInt16) async {
        var announced: [HashValue: ContinuousClock.Instant] = [:]
        // A mirror's new version is announced again at once, so followers elsewhere learn of it.
        var versions: [HashValue: UInt64] = [:]
        while !Task.isCancelled {
            let size = dht.routingTableSize
            if size.ipv4 + size.ipv6 > 0 {
                let now = ContinuousClock.now
                for key in publiclyHeldDiscoveryKeys() {
                    let version = mirrors.version(of: key)
                    if let last = announced[key], now - last < .seconds(15 * 60), versions[key] == version { continue }
                    let accepted = await dht.announce(ContentKeys.infoHash(forDiscoveryKey: key.bytes), port: port)
                    logger.debug("announced on the DHT", metadata: ["discovery key": "\(key)", "nodes": "\(accepted)"])
                    if accepted > 0 {
                        announced[key] = now
                        versions[key] = version
                    }
                }
            }
            do { try await Task.sleep(for: .seconds(2)) } catch { return }
        }
    }

    /// The holders of a discovery key announced on the DHT, IPv6 first, never this node; none
    /// without `serve --global`.
    static func dhtHolders(of key: HashValue, dht: DHTNode?, listening: ListeningAddresses, logger: Logger) async -> [PeerAddress] {
        guard let dht else { return [] }
        let found = await dht.findPeers(of: ContentKeys.infoHash(forDiscoveryKey: key.bytes))
        let ownPorts = Set(listening.all.compactMap { PeerAddress(parsing: $0)?.port })
        let ownHosts = Set(((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress })
        logger.debug("DHT lookup for holders", metadata: ["discovery key": "\(key)", "found": "\(found.peers.count)", "queries": "\(found.queries)"])
        return found.peers.sorted { $0.isIPv6 && !$1.isIPv6 }
            .filter { !(ownPorts.contains(Int($0.port)) && ownHosts.contains($0.host)) }
            .map { PeerAddress(host: $0.host, port: Int($0.port)) }
    }
}

extension PeerNode {
    /// For a node opened for one command (`fetch --global` with no node running): runs its DHT
    /// node in the background and waits until the routing table has nodes (at most 10 s).
    /// Cancel the returned task to leave.
    public func joinDHTForOneOperation() async -> Task<Void, Never>? {
        guard let dht else { return nil }
        let running = Task { _ = try? await dht.run() }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let size = dht.routingTableSize
            if size.ipv4 + size.ipv6 > 0, dht.boundPort != nil { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return running
    }
}
