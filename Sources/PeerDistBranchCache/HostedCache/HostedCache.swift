#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import PeerDistHashing
import PeerDistWire
import ServiceLifecycle

/// A branch's hosted cache (MS-PCHC): answers clients' offers, pulls the segments they offer
/// from their MS-PCCRR servers, verifies and keeps them in `HostedSegments`, from which the
/// node's MS-PCCRR server serves the branch.
///
/// An INITIAL_OFFER for a segment held whole gets OK, anything else INTERESTED; a SEGMENT_INFO
/// is recorded, answered OK, and queued for `run` to pull. Pulls go one at a time: each asks the
/// client which blocks it holds (GETBLKLIST) and fetches the missing ones (GETBLKS, AES-128),
/// keeping only blocks that match the segment's hashes. A BATCHED_OFFER (version 2) is answered
/// OK and each segment not held is pulled as its one block, kept sealed as it came
/// (`SealedSegment`: the cache has no key or hash for it).
public final class HostedCache: Service, Sendable {
    public let segments: HostedSegments
    private let logger: Logger
    private let pulls: AsyncStream<Pull>
    private let queue: AsyncStream<Pull>.Continuation

    struct Pull: Sendable {
        var segmentID: HashValue
        var host: String
        var port: Int
        /// A version 2 segment offered in a batch: its size, the one thing to check it by.
        var sealedSize: UInt32?
    }

    /// Offers queued for pulling at most; more are answered but not pulled (the client offers again).
    static let maximumQueuedPulls = 1024

    public init(segments: HostedSegments, logger: Logger) {
        self.segments = segments
        self.logger = logger
        (pulls, queue) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(Self.maximumQueuedPulls))
    }

    /// The answer to one POST body from `client`.
    public func answer(_ body: ByteBuffer, from client: SocketAddress?) -> (HTTPResponseStatus, [UInt8]) {
        let message: PCHCMessage
        do {
            message = try PCHCMessage(decoding: body.readableBytesView)
        } catch {
            logger.debug("malformed PCHC request", metadata: ["error": "\(error)"])
            return (.badRequest, [])
        }
        switch message.body {
        case .initialOffer(let segmentID):
            return (.ok, (segments.holdsAll(segmentID) ? PCHCResponse.ok : .interested).encoded())
        case .segmentInfo(_, let information):
            guard let segment = try? message.describedSegment() else { return (.badRequest, []) }
            do {
                try segments.add(segment, information: information)
            } catch {
                logger.warning("hosted cache cannot record a segment", metadata: ["error": "\(error)"])
                return (.internalServerError, [])
            }
            if !segments.holdsAll(segment.segmentID), let client, let host = Self.scopedHost(client) {
                queue.yield(Pull(segmentID: segment.segmentID, host: host, port: Int(message.port)))
            }
            return (.ok, PCHCResponse.ok.encoded())
        case .batchedOffer(let descriptors):
            if let client, let host = Self.scopedHost(client) {
                for descriptor in descriptors where !segments.holdsAll(descriptor.segmentID) {
                    queue.yield(Pull(segmentID: descriptor.segmentID, host: host, port: Int(message.port), sealedSize: descriptor.segmentSize))
                }
            }
            return (.ok, PCHCResponse.ok.encoded())
        }
    }

    /// The client's address to connect back to, with `%interface` for a link-local IPv6 address.
    static func scopedHost(_ address: SocketAddress) -> String? {
        guard let host = address.ipAddress else { return nil }
        guard case .v6(let v6) = address, v6.address.sin6_scope_id != 0 else { return host }
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(v6.address.sin6_scope_id, &name) != nil else { return host }
        let interface = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(host.split(separator: "%").first ?? Substring(host))%\(interface)"
    }

    /// Pulls offered segments until cancelled.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await pull in self.pulls {
                do {
                    if let size = pull.sealedSize {
                        try await self.pullSealed(pull.segmentID, size: size, host: pull.host, port: pull.port)
                    } else {
                        try await self.pull(pull.segmentID, host: pull.host, port: pull.port)
                    }
                } catch {
                    self.logger.info("hosted cache pull failed", metadata: ["peer": "\(pull.host):\(pull.port)", "error": "\(error)"])
                }
            }
        }
    }

    private func pull(_ segmentID: HashValue, host: String, port: Int) async throws {
        guard let segment = segments.segment(withID: segmentID) else { return }
        try await PCCRRConnection.withConnection(host: host, port: port) { connection in
            let asked = PCCRRGetBlockList(segmentID: segmentID, neededRanges: [BlockRange(index: 0, count: UInt32(segment.blockCount))])
            guard case .blockList(let list) = try await connection.exchange(PCCRRMessage(.getBlockList(asked), cryptoAlgorithm: .aes128)).body else {
                throw BranchCacheError(.malformed, "the client answered a block list request with something else")
            }
            let held = Set(segments.heldBlocks(of: segment).flatMap(\.indices))
            for range in list.ranges {
                for index in range.indices where index < segment.blockCount && !held.contains(index) {
                    let request = PCCRRGetBlocks(segmentID: segmentID, ranges: [BlockRange(index: UInt32(index), count: 1)])
                    let reply = try await connection.exchange(PCCRRMessage(.getBlocks(request), cryptoAlgorithm: .aes128))
                    guard case .block(let block) = reply.body, block.blockIndex == UInt32(index), !block.isEmpty else { continue }
                    let bytes = try PCCRRBlockCipher().decrypt(
                        block.block, initializationVector: block.initializationVector, algorithm: reply.cryptoAlgorithm,
                        segmentSecret: segment.segmentSecret, length: Int(segment.blockRange(index).count))
                    guard try segments.keep(bytes, block: index, of: segmentID) else {
                        throw BranchCacheError(.undecryptable, "block \(index) of segment \(segmentID) failed verification; the pull stops")
                    }
                }
            }
        }
        logger.debug("hosted cache pulled a segment", metadata: ["segment": "\(segmentID)", "whole": "\(segments.holdsAll(segmentID))"])
    }

    /// Pulls a version 2 segment offered by ID alone: its one block, under AES-128 (what
    /// Windows and iPXE clients ask for), kept as it came if its size fits the offer.
    private func pullSealed(_ segmentID: HashValue, size: UInt32, host: String, port: Int) async throws {
        guard !segments.holdsAll(segmentID) else { return }
        try await PCCRRConnection.withConnection(host: host, port: port) { connection in
            let request = PCCRRGetBlocks(segmentID: segmentID, ranges: [BlockRange(index: 0, count: 1)])
            let reply = try await connection.exchange(PCCRRMessage(.getBlocks(request), cryptoAlgorithm: .aes128))
            guard case .block(let block) = reply.body, block.segmentID == segmentID, block.blockIndex == 0, !block.isEmpty else {
                throw BranchCacheError(.notFound, "the client that offered segment \(segmentID) does not serve it")
            }
            let sealed = SealedSegment(cryptoAlgorithm: reply.cryptoAlgorithm, segmentSize: size, initializationVector: block.initializationVector, block: block.block)
            guard try segments.keepSealed(sealed, for: segmentID) else {
                throw BranchCacheError(.malformed, "segment \(segmentID) came as \(block.block.count) bytes under \(reply.cryptoAlgorithm); the offer said \(size) bytes")
            }
        }
        logger.debug("hosted cache pulled a sealed segment", metadata: ["segment": "\(segmentID)"])
    }
}

/// Serves a segment from whichever source holds it: the node's store, then the hosted cache.
public struct CombinedSegmentSource: BranchCacheSegmentSource {
    let sources: [any BranchCacheSegmentSource]

    public init(_ sources: [any BranchCacheSegmentSource]) {
        self.sources = sources
    }

    public func segment(withID segmentID: HashValue) -> SegmentDescription? {
        sources.lazy.compactMap { $0.segment(withID: segmentID) }.first
    }

    public func heldBlocks(of segment: SegmentDescription) -> [BlockRange] {
        sources.lazy.map { $0.heldBlocks(of: segment) }.first { !$0.isEmpty } ?? []
    }

    public func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? {
        sources.lazy.compactMap { $0.verifiedBlock(of: segment, index: index) }.first
    }

    public func sealedSegment(withID segmentID: HashValue) -> SealedSegment? {
        sources.lazy.compactMap { $0.sealedSegment(withID: segmentID) }.first
    }

    public func holdsSealedSegment(withID segmentID: HashValue) -> Bool {
        sources.contains { $0.holdsSealedSegment(withID: segmentID) }
    }
}
