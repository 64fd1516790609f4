import Logging
import PeerDistBranchCache
import PeerDistHashing
import PeerDistWire
import ServiceLifecycle

/// The node's store serves BranchCache clients as it serves PeerDist peers: the same verified
/// blocks, found by the same segment IDs.
extension StoreContentSource: BranchCacheSegmentSource {}

/// The node's public content, as BranchCache clients may see it: MS-PCCRR and MS-PCCRD carry no
/// identity, so content shared with an audience (`publish --to`) is answered as not held.
struct PublicSegments: BranchCacheSegmentSource {
    let base: StoreContentSource
    let rules: any AccessRules

    func segment(withID segmentID: HashValue) -> SegmentDescription? {
        guard let id = base.contentID(ofSegment: segmentID), rules.audience(ofContent: id) == nil else { return nil }
        return base.segment(withID: segmentID)
    }

    func heldBlocks(of segment: SegmentDescription) -> [BlockRange] {
        self.segment(withID: segment.segmentID) == nil ? [] : base.heldBlocks(of: segment)
    }

    func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? {
        self.segment(withID: segment.segmentID) == nil ? nil : base.verifiedBlock(of: segment, index: index)
    }

    /// Blocks of the segment held and verified; 0 for private content and segments not held.
    func heldBlockCount(ofSegment segmentID: HashValue) -> Int {
        guard let segment = segment(withID: segmentID) else { return 0 }
        return base.heldBlocks(of: segment).reduce(0) { $0 + Int($1.count) }
    }
}

extension PeerNode {
    /// The node's BranchCache parts: the MS-PCCRR server when a port is configured, and the
    /// MS-PCCRD responder whenever it runs (or when asked to answer probes alone), its XAddrs
    /// naming the MS-PCCRR listener.
    ///
    /// - Parameter peerPort: what XAddrs names when no MS-PCCRR server runs (answering probes
    ///   alone, as before the server existed).
    /// - Parameter access: who may read what; BranchCache clients have no identity, so only
    ///   public content is served, answered for and offered to them.
    func branchCacheServices(
        source store: StoreContentSource, peerPort: Int, access: any AccessRules
    ) async throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let source = PublicSegments(base: store, rules: access)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let origin = configuration.httpOrigin {
            let files = try OriginFiles(directory: origin.directory, secret: origin.secret)
            let server = try await PCCRTPOriginServer.bind(host: origin.listen.host, port: origin.listen.port, files: files, logger: logger)
            originListening.append(PeerAddress(host: origin.listen.host, port: server.port).description)
            logger.info("serving files over HTTP (MS-PCCRTP origin)", metadata: ["directory": "\(files.root)", "port": "\(server.port)"])
            services.append(.init(service: server, serviceName: "PCCRTP origin"))
        }
        var advertisedPort = peerPort
        if let port = configuration.branchCachePort {
            let server = try await PCCRRServer.bind(
                port: port, responder: PCCRRResponder(source: source, cipher: PCCRRBlockCipher(keyRule: configuration.branchCacheKeyRule)),
                activeClientLimit: configuration.branchCacheActiveClientLimit, logger: logger)
            advertisedPort = server.port
            branchCacheListening.append("[::]:\(server.port)")
            logger.info("serving BranchCache (MS-PCCRR)", metadata: ["port": "\(server.port)"])
            services.append(.init(service: server, serviceName: "PCCRR server"))
        }
        if let port = configuration.hostedCachePort {
            let hosted = HostedCache(
                segments: try HostedSegments(directory: configuration.dataDirectory.path + "/hosted-cache"), logger: logger)
            let server = try await PCCRRServer.bind(
                port: port, responder: PCCRRResponder(source: CombinedSegmentSource([source, hosted.segments])), hostedCache: hosted,
                activeClientLimit: 1024, logger: logger)
            logger.info("hosted cache (MS-PCHC) for the branch", metadata: ["port": "\(server.port)"])
            hostedCacheListening.append("[::]:\(server.port)")
            services.append(.init(service: server, serviceName: "hosted cache server"))
            services.append(.init(service: hosted, serviceName: "hosted cache"))
        }
        if let hostedCache = configuration.hostedCacheServer, configuration.branchCachePort != nil {
            let (store, logger, port) = (self.store, logger, advertisedPort)
            let offers = OptionalPartService(name: "offers to the hosted cache", logger: logger) {
                while true {
                    await HostedCacheOffers.offerAll(in: store, source: source, to: hostedCache, port: port, logger: logger)
                    try await Task.sleep(for: HostedCacheOffers.interval)
                }
            }
            services.append(.init(service: offers, successTerminationBehavior: .ignore, serviceName: offers.name))
        }
        guard configuration.answersBranchCacheProbes || configuration.branchCachePort != nil else { return services }
        // Without it BranchCache clients cannot find the node; PeerDist nodes still can.
        let (logger, port, order, damping) = (self.logger, advertisedPort, configuration.branchCacheV2BitOrder, branchCacheDamping)
        let responder = OptionalPartService(name: "BranchCache discovery", logger: logger) {
            try await WSDiscoveryResponder.answerProbes(heldBlockCount: { source.heldBlockCount(ofSegment: $0) }, port: port, logger: logger, version2BitOrder: order,
                answersFor: { damping.shouldAnswer($0) })
        }
        services.append(.init(service: responder, successTerminationBehavior: .ignore, serviceName: responder.name))
        return services
    }

    /// An MS-PCCRD probe for the segments of `id`, once its Content Information is in the store:
    /// BranchCache peers (Windows, iPXE's hosts, other nodes' MS-PCCRR servers) join the fetch.
    func branchCacheDiscovery(for id: ContentID) -> @Sendable () async -> [PeerAddress] {
        let (store, logger, damping) = (store, logger, branchCacheDamping)
        let ownPort = branchCacheAddresses.first.flatMap { PeerAddress(parsing: $0)?.port }
        return {
            guard let information = store.contentInformation(for: id) else { return [] }
            return await BranchCacheHolderLookup.findHolders(
                of: information.segments(prefix: BranchCacheHolderLookup.maximumProbedSegments), ownPort: ownPort, damping: damping, logger: logger)
        }
    }

    /// Where the node is its branch's hosted cache, once `run` has bound it.
    public var hostedCacheAddresses: [String] { hostedCacheListening.all }

    /// Where the node serves files as an HTTP origin, once `run` has bound it.
    public var originAddresses: [String] { originListening.all }

    /// Where the node serves BranchCache clients (MS-PCCRR over HTTP), once `run` has bound it.
    public var branchCacheAddresses: [String] { branchCacheListening.all }
}

/// An MS-PCCRTP origin: the directory whose files it serves, where it listens, and the server
/// secret its Content Information is keyed with (`nil`: content-addressed, so its segment IDs are
/// those every PeerDist node derives for the same bytes).
public struct HTTPOrigin: Sendable {
    public var directory: String
    public var listen: PeerAddress
    public var secret: ServerSecret?

    public init(directory: String, listen: PeerAddress, secret: ServerSecret?) {
        self.directory = directory
        self.listen = listen
        self.secret = secret
    }
}
