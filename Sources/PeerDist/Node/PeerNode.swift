import Foundation
import Logging
import NIOCore
import NIOPosix
import PeerDistCollaboration
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistStore
import PeerDistBranchCache
import PeerDistMirror
import PeerDistDHT
import ServiceLifecycle

/// A running PeerDist node: its identity, its store, the listener that serves blocks to peers
/// and the control socket its owner drives it through.
///
/// One process owns a data directory at a time (the store locks it); commands that find a node
/// running talk to it over the control socket instead of opening the store themselves.
public final class PeerNode: Sendable {
    public struct Configuration: Sendable {
        public var dataDirectory: DataDirectory
        /// Where to accept peers; `nil` for a node that only fetches.
        public var listen: PeerAddress?
        public var quotaBytes: UInt64?
        /// Test-only fault injection: serve corrupted blocks.
        package var corruptsBlocks = false
        /// Bytes per second to send to peers at most, all connections together.
        public var maximumUploadRate: UInt64?
        /// Answer BranchCache (MS-PCCRD) probes for the segments the node holds even without an
        /// MS-PCCRR server (XAddrs then names the peer port); with `branchCachePort` set they are
        /// answered anyway.
        public var answersBranchCacheProbes = false
        /// Serve BranchCache clients over MS-PCCRR (HTTP) on this port (0: any), and answer
        /// their MS-PCCRD probes naming it; `nil` for no BranchCache server.
        public var branchCachePort: Int?
        /// Which bytes of a segment's secret make its blocks' AES key (see `PCCRRBlockCipher`).
        public var branchCacheKeyRule = PCCRRBlockCipher.KeyRule.leadingBytes
        /// MS-PCCRR requests served at once before replies go empty (Active Client Count).
        public var branchCacheActiveClientLimit = PCCRRServer.defaultActiveClientLimit
        /// How version 2 MS-PCCRD replies pack their availability bits (undocumented; see `PCCRDBitOrder`).
        public var branchCacheV2BitOrder = PCCRDBitOrder.mostSignificantFirst
        /// Serve the files under a directory as an MS-PCCRTP origin (HTTP, handing out Content
        /// Information to BranchCache clients); `nil` for none.
        public var httpOrigin: HTTPOrigin?
        /// Be a branch's hosted cache (MS-PCHC) on this port: take clients' offers, pull and keep
        /// the segments, serve them over MS-PCCRR on the same port; `nil` for none.
        public var hostedCachePort: Int?
        /// A hosted cache to offer the node's content to (MS-PCHC), at its PCHC/PCCRR port.
        public var hostedCacheServer: PeerAddress?
        /// How often a watched node tells its watchers it is still there; a watcher calls it
        /// offline after three missed.
        public var presenceHeartbeat: Duration = .seconds(20)
        /// Join BitTorrent's Mainline DHT (`serve --global`); `nil` to stay on the LAN.
        public var dht: DHTSettings?

        public init(dataDirectory: DataDirectory, listen: PeerAddress? = nil, quotaBytes: UInt64? = nil) {
            self.dataDirectory = dataDirectory
            self.listen = listen
            self.quotaBytes = quotaBytes
        }
    }

    public let configuration: Configuration
    public let identity: NodeIdentity
    public let store: ContentStore
    public let counters = NodeCounters()
    /// Nodes heard announcing themselves on the LAN.
    public let peerDirectory = PeerDirectory()
    /// Content this node begins to hold, announced on the LAN, and what others announce.
    public let announcements = HolderAnnouncements()
    /// The directories this node publishes and follows as mirrors.
    public let mirrors: MirrorService
    /// The person behind the node: contacts, presence, People Near Me, objects, invitations,
    /// and who may read what is shared privately.
    public let collaboration: Collaboration
    /// The node's Mainline DHT node, with `Configuration.dht`.
    public let dht: DHTNode?
    /// Peer names this node registered (`peerdist names`).
    let names = NameRegistry()
    let logger: Logger
    private let listening = ListeningAddresses()
    let branchCacheListening = ListeningAddresses()
    let originListening = ListeningAddresses()
    let hostedCacheListening = ListeningAddresses()
    /// How many BranchCache holders answered this node's own probes, per segment.
    let branchCacheDamping = PCCRDDamping()
    let holderLookup: HolderLookup
    /// Running fetches: each one's download, and the peer that last delivered to it.
    let transfers = PThreadMutex<[ContentID: (download: Download, peer: String?)]>([:])

    public init(configuration: Configuration, logger: Logger) throws {
        try configuration.dataDirectory.create()
        self.configuration = configuration
        self.logger = logger
        // The store locks the directory: one process owns it at a time.
        self.store = try ContentStore(directory: configuration.dataDirectory.path, quotaBytes: configuration.quotaBytes)
        let identity = try NodeIdentity.loadOrCreate(in: configuration.dataDirectory.path)
        self.identity = identity
        let holders = HolderLookup(announcements: announcements, listening: listening, logger: logger)
        self.holderLookup = holders
        let dataDirectory = configuration.dataDirectory
        let collaboration = try Collaboration(
            dataDirectory: configuration.dataDirectory.path, identity: identity, peerDirectory: peerDirectory,
            heartbeatInterval: configuration.presenceHeartbeat, logger: logger)
        self.collaboration = collaboration
        let dht = Self.makeDHT(configuration.dht, listen: configuration.listen, dataDirectory: configuration.dataDirectory, logger: logger)
        self.dht = dht
        let listening = self.listening
        let contentChunks = try ContentChunkCatalog(store: store, dataDirectory: dataDirectory, logger: logger)
        self.mirrors = MirrorService(
            identity: identity, dataDirectory: dataDirectory, counters: counters, announcements: announcements, logger: logger,
            findHolders: { key, askTheLAN in
                var found = (try? dataDirectory.staticPeers()) ?? []
                for holder in await holders.holders(of: key, askingTheLAN: askTheLAN) where !found.contains(holder) { found.append(holder) }
                // Private mirrors are not answered for on the LAN: their holders are among my contacts.
                if found.isEmpty || collaboration.audience(ofMirror: key) != nil {
                    for address in collaboration.contactAddresses() where !found.contains(address) { found.append(address) }
                }
                // Nobody near: the publisher or other followers may be elsewhere, on the DHT.
                if found.isEmpty, collaboration.audience(ofMirror: key) == nil {
                    found = await Self.dhtHolders(of: key, dht: dht, listening: listening, logger: logger)
                }
                return found
            },
            privateMirrorHeard: { key, audience in
                do {
                    try collaboration.book.restrict(mirror: key.hex, to: audience)
                } catch {
                    logger.warning("cannot keep a private mirror private", metadata: ["error": "\(error)"])
                }
            },
            contentChunks: contentChunks)
    }

    /// Serves peers and the control socket until a graceful shutdown (see `ServiceLifecycle`) or
    /// cancellation. `whenReady` is called once the listener and the control socket are bound.
    ///
    /// The node's parts run as services in one group: the peer listener, LAN discovery, the
    /// BranchCache responder, the mirror service and the control server. Discovery may fail (no
    /// interface that can multicast) without stopping the node; any other part ending does.
    public func run(whenReady ready: @Sendable () -> Void = {}) async throws {
        // A socket file left behind would make the next command try to talk to a dead node.
        defer { unlink(configuration.dataDirectory.controlSocketPath) }
        // Each service is named: the library's default name, "\(service)", reflects over the
        // whole service, which took milliseconds of every node's start.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listen = configuration.listen {
            let listener = try await PeerNetwork.listen(host: listen.host, port: listen.port, identity: identity)
            let bound = listener.channel.localAddress
            let address = PeerAddress(host: bound?.ipAddress ?? listen.host, port: bound?.port ?? listen.port)
            listening.append(address.description)
            logger.info("listening for peers", metadata: ["address": "\(address)"])
            collaboration.listening(on: address.port)
            let source = StoreContentSource(store: store)
            let server = PeerRequestServer(
                source: source, mirrors: mirrors, access: collaboration, collaboration: collaboration, counters: counters, logger: logger,
                corruptsBlocks: configuration.corruptsBlocks, uploadLimit: configuration.maximumUploadRate.map(RateLimiter.init(bytesPerSecond:)))
            services.append(.init(service: PeerListenerService(listener: listener, server: server), serviceName: "peer listener"))
            let (identity, directory, announcements, mirrors, collaboration, logger) = (identity, peerDirectory, announcements, mirrors, collaboration, logger)
            // Private content and mirrors are never answered for on the LAN: who may read them
            // asks their holder over a channel that proves who is asking.
            let isHeld: @Sendable (HashValue) -> Bool = { key in
                if let found = source.content(forDiscoveryKey: key) { return collaboration.audience(ofContent: found.id) == nil }
                return mirrors.holds(key) && collaboration.audience(ofMirror: key) == nil
            }
            let lanDiscovery = OptionalPartService(name: "LAN discovery", logger: logger, restarts: true) {
                try await LANDiscovery.answer(
                    tcpPort: address.port, identity: identity, name: ProcessInfo.processInfo.hostName, directory: directory,
                    isHeld: isHeld, announcements: announcements, collaboration: collaboration,
                    nameRecord: { [weak self] key in self?.linkRecord(for: key) }, logger: logger)
            }
            services.append(.init(service: lanDiscovery, successTerminationBehavior: .ignore, serviceName: lanDiscovery.name))
            services += try await branchCacheServices(source: source, peerPort: address.port, access: collaboration)
            services += dhtServices(peerPort: address.port)
        }
        services.append(.init(service: mirrors, serviceName: "mirrors"))
        // After the listener and LAN discovery: services stop in reverse order, so watchers and
        // the LAN hear "offline" while both still run.
        services.append(.init(service: CollaborationService(collaboration: collaboration), serviceName: "collaboration"))
        let control = try await ControlServer.bind(at: configuration.dataDirectory.controlSocketPath, for: self, logger: logger)
        services.append(.init(service: control, serviceName: "control socket"))
        ready()
        try await ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger)).run()
    }

    /// The port the node listens on, once `run` has bound it.
    public var listeningAddresses: [String] { listening.all }

    // MARK: Operations

    /// Publishes the file at `path` in place. Hashing it blocks for as long as reading the file
    /// takes, so it runs on NIO's thread pool, never on the cooperative pool that serves peers.
    ///
    /// With an `audience`, the content is private: only connections authenticated as those keys
    /// learn it exists (see `AccessRules`).
    public func publish(path: String, version: ContentInformationVersion, audience: Set<PeerKey>? = nil) async throws -> PublishedContent {
        let published = try await NIOThreadPool.singleton.runIfActive { [store] in
            try store.publish(path: path, version: version)
        }
        if let audience { try collaboration.book.restrict(content: published.contentID.hex, to: audience) }
        return published
    }

    /// Fetches `id` from `peers` into the store and places it at `output`.
    ///
    /// `hints` are tried besides whoever discovery finds: the sender of an invitation, say.
    /// With `global`, holders on the Mainline DHT are looked for at once, not only when nobody
    /// on the LAN answers.
    public func fetch(
        id: ContentID, peers: [PeerAddress], hints: [PeerAddress] = [], output: String, replace: Bool, maximumRate: UInt64? = nil,
        global: Bool = false, progress: @escaping @Sendable (FetchProgress) -> Void
    ) async throws -> String {
        if !replace, FileManager.default.fileExists(atPath: output) {
            throw NodeError(.invalidState, "\(output) already exists (remove it, choose another -o, or pass --force)")
        }
        // No peers named: the static peers of the data directory's `peers` file, and whoever on
        // the LAN answers for the content.
        var peers = peers
        var hints = hints
        let discovering = peers.isEmpty
        if discovering {
            peers = try configuration.dataDirectory.staticPeers()
            async let onTheDHT = global ? Self.dhtHolders(of: id.discoveryKey, dht: dht, listening: listening, logger: logger) : []
            // Started on the first holders to answer; the fetch asks again at once for the rest.
            let answered = await holderLookup.holders(of: id.discoveryKey, askingTheLAN: true, firstAnswers: true)
            for holder in answered + hints where !peers.contains(holder) { peers.append(holder) }
            var fromTheDHT = await onTheDHT
            // Nobody on the LAN: the DHT may know holders elsewhere.
            if peers.isEmpty, !global, dht != nil, collaboration.audience(ofContent: id) == nil {
                fromTheDHT = await Self.dhtHolders(of: id.discoveryKey, dht: dht, listening: listening, logger: logger)
            }
            for holder in fromTheDHT where !peers.contains(holder) { peers.append(holder) }
            hints += fromTheDHT
            // Private content is not answered for on the LAN: its holders are among my contacts.
            if peers.isEmpty { peers = collaboration.contactAddresses() }
        }
        let started = ContinuousClock.now
        var finished = false
        defer {
            (finished ? NodeInstruments.transfersCompleted : NodeInstruments.transfersFailed).increment()
            NodeInstruments.transferDuration.record(duration: ContinuousClock.now - started)
        }
        var fetcher = Fetcher(identity: identity, peers: peers, counters: counters, logger: logger)
        fetcher.maximumRate = maximumRate
        if discovering {
            fetcher.discoverBranchCache = branchCacheDiscovery(for: id)
            fetcher.asksTheLANAgainAtOnce = true
        }
        let information: ContentInformation
        if let known = store.contentInformation(for: id) {
            information = known
        } else {
            let found = try await fetcher.contentInformation(for: id)
            information = found.information
            // Shared privately with me: I keep it to the same people.
            if let audience = found.audience { try collaboration.book.restrict(content: id.hex, to: audience) }
        }
        let isPrivate = collaboration.audience(ofContent: id) != nil
        let download = try store.beginDownload(contentID: id, information: information)
        transfers.withLock { $0[id] = (download, nil) }
        // Others fetching the same content learn of this node now, and trade blocks with it.
        if !isPrivate { announcements.announce(id.discoveryKey) }
        defer { transfers.withLock { _ = $0.removeValue(forKey: id) } }
        // A file this node already has whole, in one of its mirrors or snapshots, lends its blocks.
        let local = mirrors.localFiles(ofSize: information.range.upperBound)
        if !local.isEmpty, download.heldBytes < download.totalBytes {
            let copied = try await NIOThreadPool.singleton.runIfActive { LocalContentCopy.fill(download, information: information, from: local) }
            if copied > 0 { logger.info("copied blocks from a file this node holds", metadata: ["content": "\(id)", "bytes": "\(copied)"]) }
        }
        progress(FetchProgress(heldBytes: download.heldBytes, totalBytes: download.totalBytes, receivedBytes: 0, peer: nil))
        do {
            // Found by discovery, the swarm is asked again as the fetch goes, so peers that gain
            // blocks meanwhile are drawn on too.
            let discover: (@Sendable (Bool) async -> [PeerAddress])? = discovering
                ? { @Sendable [hints] askTheLAN in
                    isPrivate ? self.collaboration.contactAddresses() + hints : await self.holders(of: id, askingTheLAN: askTheLAN) + hints
                }
                : nil
            try await fetcher.fetchBlocks(of: information, contentID: id, into: download, discover: discover) { update in
                self.transfers.withLock { $0[id]?.peer = update.peer }
                progress(update)
            }
        } catch {
            try? download.flush()
            throw error
        }
        _ = try download.finish()
        try store.export(contentID: id, to: output, replacing: replace)
        finished = true
        return output
    }

    /// The holders of `id` heard announcing it, and with `askingTheLAN` those that answer a
    /// query; never this node itself, which answers its own queries once it holds part of the
    /// content (a resumed fetch does from the start).
    private func holders(of id: ContentID, askingTheLAN: Bool) async -> [PeerAddress] {
        await holderLookup.holders(of: id.discoveryKey, askingTheLAN: askingTheLAN)
    }

    public func status() -> NodeStatus {
        let entries = store.entries()
        let listings = entries.map(StoreListing.init)
        return NodeStatus(
            fingerprint: identity.fingerprint, publicKey: Hex.encode(identity.publicKey.bytes),
            dataDirectory: configuration.dataDirectory.path, listening: listeningAddresses,
            published: listings.filter { $0.kind == "published" }, cached: listings.filter { $0.kind != "published" },
            transfers: transferStatuses(),
            counters: counters.snapshot)
    }

    /// The fetches under way, without the store listing `status` adds.
    public func transferStatuses() -> [TransferStatus] {
        transfers.withLock { Array($0) }.map { id, transfer in
            TransferStatus(
                contentID: id.hex, heldBytes: transfer.download.heldBytes, totalBytes: transfer.download.totalBytes,
                peer: transfer.peer, heldBlocks: Hex.encode(transfer.download.heldBits))
        }
    }
}
