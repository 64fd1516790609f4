import Foundation
import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization

/// Finds the holders of a discovery key: those heard announcing it, and with `askingTheLAN`
/// those that answer a query; never the node itself (it hears its own announcements and answers).
struct HolderLookup: Sendable {
    let announcements: HolderAnnouncements
    let listening: ListeningAddresses
    let logger: Logger

    func holders(of key: HashValue, askingTheLAN: Bool) async -> [PeerAddress] {
        let asked = askingTheLAN ? (try? await LANDiscovery.findHolders(of: key, logger: logger)) ?? [] : []
        let found = asked + announcements.holders(of: key)
        let ownPorts = Set(listening.all.compactMap { PeerAddress(parsing: $0)?.port })
        guard found.contains(where: { ownPorts.contains($0.port) }) else { return found }
        let ownHosts = Set(((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress.map(Self.unscoped) })
        return found.filter { !(ownPorts.contains($0.port) && ownHosts.contains(Self.unscoped($0.host))) }
    }

    private static func unscoped(_ host: String) -> String {
        host.split(separator: "%").first.map(String.init) ?? host
    }
}

/// The addresses a node listens on, once bound.
final class ListeningAddresses: Sendable {
    private let value = Mutex<[String]>([])

    func append(_ address: String) { value.withLock { $0.append(address) } }
    var all: [String] { value.withLock { $0 } }
}

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
        /// Answer BranchCache (MS-PCCRD) probes for the segments the node holds. Off by default:
        /// the node does not serve blocks over MS-PCCRR yet, so such clients cannot fetch from it.
        public var answersBranchCacheProbes = false

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
    let logger: Logger
    private let listening = ListeningAddresses()
    private let holderLookup: HolderLookup
    /// Running fetches: each one's download, and the peer that last delivered to it.
    private let transfers = Mutex<[ContentID: (download: Download, peer: String?)]>([:])

    public init(configuration: Configuration, logger: Logger) throws {
        try configuration.dataDirectory.create()
        HeapTuning.apply()
        self.configuration = configuration
        self.logger = logger
        // The store locks the directory: one process owns it at a time.
        self.store = try ContentStore(directory: configuration.dataDirectory.path, quotaBytes: configuration.quotaBytes)
        let identity = try NodeIdentity.loadOrCreate(in: configuration.dataDirectory.path)
        self.identity = identity
        let holders = HolderLookup(announcements: announcements, listening: listening, logger: logger)
        self.holderLookup = holders
        let dataDirectory = configuration.dataDirectory
        self.mirrors = MirrorService(
            identity: identity, dataDirectory: dataDirectory, counters: counters, announcements: announcements, logger: logger
        ) { key, askTheLAN in
            var found = (try? dataDirectory.staticPeers()) ?? []
            for holder in await holders.holders(of: key, askingTheLAN: askTheLAN) where !found.contains(holder) { found.append(holder) }
            return found
        }
    }

    /// Serves peers and the control socket until the task is cancelled.
    public func run() async throws {
        // A socket file left behind would make the next command try to talk to a dead node.
        defer { unlink(configuration.dataDirectory.controlSocketPath) }
        try await withThrowingDiscardingTaskGroup { group in
            if let listen = configuration.listen {
                let server = try await PeerNetwork.listen(host: listen.host, port: listen.port, identity: identity)
                let bound = server.channel.localAddress
                let address = PeerAddress(host: bound?.ipAddress ?? listen.host, port: bound?.port ?? listen.port)
                listening.append(address.description)
                logger.info("listening for peers", metadata: ["address": "\(address)"])
                let boundPort = address.port
                let source = StoreContentSource(store: store)
                group.addTask {
                    do {
                        try await LANDiscovery.answer(
                            tcpPort: boundPort, identity: self.identity, name: ProcessInfo.processInfo.hostName, directory: self.peerDirectory,
                            isHeld: { source.content(forDiscoveryKey: $0) != nil || self.mirrors.holds($0) }, announcements: self.announcements, logger: self.logger)
                    } catch is CancellationError {
                    } catch {
                        // Without discovery the node still serves peers that name it with --peer.
                        self.logger.warning("LAN discovery is off", metadata: ["error": "\(error)"])
                    }
                }
                if configuration.answersBranchCacheProbes {
                    group.addTask {
                        do {
                            try await WSDiscoveryResponder.answerProbes(
                                heldBlockCount: { source.heldBlockCount(ofSegment: $0) }, port: boundPort, logger: self.logger)
                        } catch {
                            // Without it BranchCache clients cannot find the node; PeerDist nodes still can.
                            self.logger.warning("BranchCache discovery is off", metadata: ["error": "\(error)"])
                        }
                    }
                }
                let blockServer = BlockServer(
                    source: source, mirrors: mirrors, counters: counters, logger: logger, corruptsBlocks: configuration.corruptsBlocks,
                    uploadLimit: configuration.maximumUploadRate.map(RateLimiter.init(bytesPerSecond:)))
                group.addTask {
                    try await withTaskCancellationHandler {
                        try await server.executeThenClose { connections in
                            try await withThrowingDiscardingTaskGroup { connectionGroup in
                                for try await connection in connections {
                                    connectionGroup.addTask { await blockServer.serve(connection) }
                                }
                            }
                        }
                    } onCancel: {
                        server.channel.close(promise: nil)
                    }
                }
            }
            group.addTask { await self.mirrors.run() }
            let control = try await bindControlSocket()
            group.addTask {
                try await withTaskCancellationHandler {
                    try await control.executeThenClose { connections in
                        try await withThrowingDiscardingTaskGroup { connectionGroup in
                            for try await connection in connections {
                                connectionGroup.addTask { await self.handleControl(connection) }
                            }
                        }
                    }
                } onCancel: {
                    control.channel.close(promise: nil)
                }
            }
        }
    }

    /// The port the node listens on, once `run` has bound it.
    public var listeningAddresses: [String] { listening.all }

    private func bindControlSocket() async throws -> NIOAsyncChannel<ControlChannel, Never> {
        let path = configuration.dataDirectory.controlSocketPath
        // We hold the data directory's lock, so a socket file here is a leftover from a dead node.
        unlink(path)
        let previous = umask(0o177)
        defer { umask(previous) }
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { ControlSocket.configure($0) }
    }

    // MARK: Operations

    public func publish(path: String, version: ContentInformationVersion) throws -> PublishedContent {
        try store.publish(path: path, version: version)
    }

    /// Fetches `id` from `peers` into the store and places it at `output`.
    public func fetch(
        id: ContentID, peers: [PeerAddress], output: String, replace: Bool, maximumRate: UInt64? = nil,
        progress: @escaping @Sendable (FetchProgress) -> Void
    ) async throws -> String {
        if !replace, FileManager.default.fileExists(atPath: output) {
            throw NodeError(.invalidState, "\(output) already exists (remove it, choose another -o, or pass --force)")
        }
        // No peers named: the static peers of the data directory's `peers` file, and whoever on
        // the LAN answers for the content.
        var peers = peers
        let discovering = peers.isEmpty
        if discovering {
            peers = try configuration.dataDirectory.staticPeers()
            for holder in await holders(of: id, askingTheLAN: true) where !peers.contains(holder) { peers.append(holder) }
        }
        var fetcher = Fetcher(identity: identity, peers: peers, counters: counters, logger: logger)
        fetcher.maximumRate = maximumRate
        let information: ContentInformation
        if let known = store.contentInformation(for: id) {
            information = known
        } else {
            information = try await fetcher.contentInformation(for: id)
        }
        let download = try store.beginDownload(contentID: id, information: information)
        transfers.withLock { $0[id] = (download, nil) }
        // Others fetching the same content learn of this node now, and trade blocks with it.
        announcements.announce(id.discoveryKey)
        defer { transfers.withLock { _ = $0.removeValue(forKey: id) } }
        progress(FetchProgress(heldBytes: download.heldBytes, totalBytes: download.totalBytes, receivedBytes: 0, peer: nil))
        do {
            // Found by discovery, the swarm is asked again as the fetch goes, so peers that gain
            // blocks meanwhile are drawn on too.
            let discover: (@Sendable (Bool) async -> [PeerAddress])? = discovering
                ? { @Sendable askTheLAN in await self.holders(of: id, askingTheLAN: askTheLAN) }
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
            transfers: transfers.withLock { Array($0) }.map { id, transfer in
                TransferStatus(
                    contentID: id.hex, heldBytes: transfer.download.heldBytes, totalBytes: transfer.download.totalBytes,
                    peer: transfer.peer, heldBlocks: Hex.encode(transfer.download.heldBits))
            },
            counters: counters.snapshot)
    }

    // MARK: Control socket

    private func handleControl(_ connection: ControlChannel) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await line in inbound {
                    let request: ControlRequest
                    do {
                        request = try ControlSocket.decode(ControlRequest.self, from: line)
                    } catch {
                        try await outbound.write(ControlSocket.encode(ControlEvent.failure("malformed control request")))
                        return
                    }
                    // Progress goes through a one-slot buffer: a slow reader sees fewer updates but
                    // never stalls the fetch.
                    let (progress, continuation) = AsyncStream.makeStream(of: ControlEvent.self, bufferingPolicy: .bufferingNewest(1))
                    async let forwarded: Void = {
                        for await event in progress {
                            try? await outbound.write(ControlSocket.encode(event))
                        }
                    }()
                    let reply: ControlEvent
                    do {
                        reply = try await perform(request) { continuation.yield($0) }
                    } catch {
                        reply = .failure("\(error)")
                    }
                    continuation.finish()
                    await forwarded
                    try await outbound.write(ControlSocket.encode(reply))
                }
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func perform(_ request: ControlRequest, emit: @escaping @Sendable (ControlEvent) -> Void) async throws -> ControlEvent {
        var reply = ControlEvent(event: .result)
        switch request.op {
        case .status:
            reply.status = status()
        case .publish:
            guard let path = request.path else { throw NodeError(.invalidState, "publish needs a path") }
            let version = ContentInformationVersion(rawValue: request.contentVersion ?? 1) ?? .v1
            let published = try publish(path: path, version: version)
            reply.contentID = published.contentID.hex
            reply.uri = published.contentID.uri
            reply.path = published.path
        case .fetch:
            guard let text = request.id, let id = ContentID(parsing: text) else { throw NodeError(.invalidState, "fetch needs a content ID") }
            guard let output = request.output else { throw NodeError(.invalidState, "fetch needs an output path") }
            let peers = try (request.peers ?? []).map { text throws(NodeError) in
                guard let address = PeerAddress(parsing: text) else { throw NodeError(.invalidState, "\(text) is not a peer address") }
                return address
            }
            let path = try await fetch(id: id, peers: peers, output: output, replace: request.replace ?? false, maximumRate: request.maximumRate) { update in
                var event = ControlEvent(event: .progress)
                event.heldBytes = update.heldBytes
                event.totalBytes = update.totalBytes
                event.receivedBytes = update.receivedBytes
                event.peer = update.peer
                event.bytesByPeer = update.bytesByPeer
                emit(event)
            }
            reply.path = path
            reply.contentID = id.hex
            reply.receivedBytes = counters.snapshot.blockBytesReceived
            reply.rejectedBlocks = counters.snapshot.blocksRejected
        case .peers:
            reply.peers = peerDirectory.all
        case .storeList:
            reply.entries = store.entries().map(StoreListing.init)
        case .storeRemove:
            guard let text = request.id, let id = ContentID(parsing: text) else { throw NodeError(.invalidState, "store rm needs a content ID") }
            try store.remove(contentID: id)
        case .storeCollect:
            reply.freedBytes = store.collectGarbage().freedBytes
        case .mirrorPublish:
            guard let path = request.path else { throw NodeError(.invalidState, "mirror publish needs a directory") }
            let status = try await mirrors.offload { [mirrors, classifier = request.classifier, watch = request.watch ?? false] in
                try mirrors.publish(directory: path, classifier: classifier, watch: watch)
            }
            reply.mirrors = [status]
        case .mirrorFollow:
            guard let text = request.id, let path = request.path else { throw NodeError(.invalidState, "mirror follow needs a name and a directory") }
            reply.mirrors = [try mirrors.follow(name: try MirrorName(parsing: text), directory: path)]
        case .mirrorStatus:
            reply.mirrors = mirrors.statuses()
        }
        return reply
    }
}
