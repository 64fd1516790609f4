import Logging
import PeerDistBranchCache
import PeerDistHashing
import PeerDistStore

/// A node's side of MS-PCHC: it offers the hosted cache every whole segment of version 1 content
/// it holds (INITIAL_OFFER), and describes those the cache is interested in (SEGMENT_INFO), and
/// the whole segments of version 2 content by ID in batches (BATCHED_OFFER, MS-PCHC 2.0), so the
/// cache pulls them from the node's MS-PCCRR server on `port`.
enum HostedCacheOffers {
    /// How often everything held is offered again: offers of what the cache holds cost one small
    /// request each, and the cache may have lost or not yet pulled what it was offered.
    static let interval: Duration = .seconds(30)

    static func offerAll(in store: ContentStore, source: PublicSegments, to cache: PeerAddress, port: Int, logger: Logger) async {
        var offered = 0
        do {
            try await PCCRRConnection.withConnection(host: cache.host, port: cache.port) { connection in
                var batch: [PCHCSegmentDescriptor] = []
                for entry in store.entries() {
                    // Private content is never offered: the cache would serve it to anyone.
                    guard source.rules.audience(ofContent: entry.contentID) == nil,
                          let information = store.contentInformation(for: entry.contentID)
                    else { continue }
                    // The content tag groups a content's segments; the content ID's first bytes do.
                    let tag = Array(entry.contentID.value.bytes.prefix(16))
                    if information.version == 2 {
                        for segment in information.segments where source.heldBlocks(of: segment).reduce(0, { $0 + Int($1.count) }) == segment.blockCount {
                            batch.append(PCHCSegmentDescriptor(segmentSize: segment.length, contentTag: tag, segmentID: segment.segmentID))
                            if batch.count == PCHCSegmentDescriptor.maximumPerOffer {
                                _ = try await connection.offer(PCHCMessage(majorVersion: 2, port: UInt16(clamping: port), body: .batchedOffer(batch)))
                                offered += batch.count
                                batch.removeAll(keepingCapacity: true)
                            }
                        }
                        continue
                    }
                    for segment in information.segments where source.heldBlocks(of: segment).reduce(0, { $0 + Int($1.count) }) == segment.blockCount {
                        let offer = PCHCMessage(port: UInt16(clamping: port), body: .initialOffer(segmentID: segment.segmentID))
                        guard try await connection.offer(offer) == .interested,
                              let info = PCHCMessage.segmentInfo(port: UInt16(clamping: port), contentTag: tag, segment: segment, algorithm: information.hashAlgorithm)
                        else { continue }
                        _ = try await connection.offer(info)
                        offered += 1
                    }
                }
                if !batch.isEmpty {
                    _ = try await connection.offer(PCHCMessage(majorVersion: 2, port: UInt16(clamping: port), body: .batchedOffer(batch)))
                    offered += batch.count
                }
            }
        } catch {
            logger.info("hosted cache unreachable", metadata: ["peer": "\(cache)", "error": "\(error)"])
        }
        if offered > 0 { logger.debug("offered segments to the hosted cache", metadata: ["segments": "\(offered)"]) }
    }
}
