import Metrics
import NIOCore
import PeerDistHashing
import PeerDistWire

/// What a BranchCache server answers to one MS-PCCRR request, apart from HTTP: MSG_NEGO_RESP to
/// a negotiation or to a request in a version it does not speak, the held part of the blocks
/// asked for in MSG_BLKLIST, one block, encrypted as asked, in MSG_BLK, and the wholly held
/// segments among those asked for in MSG_SEGLIST (version 2).
///
/// When the server is busy (serving as many clients as it will) the answer is an empty BLKLIST,
/// BLK or SEGLIST, as MS-PCCRR 3.7 has it, so the client turns to another peer at once.
public struct PCCRRResponder: Sendable {
    let source: any BranchCacheSegmentSource
    let cipher: PCCRRBlockCipher

    public init(source: any BranchCacheSegmentSource, cipher: PCCRRBlockCipher = PCCRRBlockCipher()) {
        self.source = source
        self.cipher = cipher
    }

    /// The response body for a POST body, with its transport header; an error for a body that is
    /// no MS-PCCRR request (the server answers it with an HTTP error status).
    public func respond(toRequest body: ByteBuffer, busy: Bool) throws(BranchCacheError) -> [UInt8] {
        let request: PCCRRMessage
        do {
            request = try PCCRRMessage(request: body)
        } catch where error.code == .unsupportedVersion {
            return PCCRRMessage(.negotiationResponse(.supported)).encodedResponse()
        }
        return respond(to: request, busy: busy).encodedResponse()
    }

    /// Requests answered, by message (`peerdist_branchcache_messages_total{type="MSG_GETBLKS"}`).
    static let requestsAnswered: [PCCRRMessageType: Counter] = Dictionary(uniqueKeysWithValues: [
        PCCRRMessageType.negotiationRequest, .getBlockList, .getBlocks, .getSegmentList,
    ].map { ($0, Counter(label: "peerdist_branchcache_messages_total", dimensions: [("type", $0.description)])) })

    public func respond(to request: PCCRRMessage, busy: Bool) -> PCCRRMessage {
        Self.requestsAnswered[request.type]?.increment()
        switch request.body {
        case .negotiationRequest, .negotiationResponse, .blockList, .block, .segmentList:
            return PCCRRMessage(.negotiationResponse(.supported))
        case .getSegmentList(let asked):
            return PCCRRMessage(.segmentList(busy ? PCCRRSegmentList(requestID: asked.requestID, ranges: [], extensibleBlob: PCCRRSegmentAges().blob) : segmentList(asked)))
        case .getBlockList(let asked):
            return PCCRRMessage(.blockList(busy ? PCCRRBlockList(segmentID: asked.segmentID, ranges: [], nextBlockIndex: 0) : blockList(asked)))
        case .getBlocks(let asked):
            let index = asked.requestedIndex
            guard !busy else { return PCCRRMessage(.block(.notHeld(segmentID: asked.segmentID, blockIndex: index))) }
            guard let segment = source.segment(withID: asked.segmentID) else {
                return sealedBlock(index, asked: asked, algorithm: request.cryptoAlgorithm)
            }
            return block(index, of: segment, asked: asked, algorithm: request.cryptoAlgorithm)
        }
    }

    /// The held blocks among those asked for, as sorted, merged ranges, and the first held block
    /// past the last one asked for.
    private func blockList(_ asked: PCCRRGetBlockList) -> PCCRRBlockList {
        guard let segment = source.segment(withID: asked.segmentID) else {
            // A sealed version 2 segment is its one block 0.
            let sealed = source.holdsSealedSegment(withID: asked.segmentID) && asked.neededRanges.contains { $0.indices.contains(0) }
            return PCCRRBlockList(segmentID: asked.segmentID, ranges: sealed ? [BlockRange(index: 0, count: 1)] : [], nextBlockIndex: 0)
        }
        let held = heldIndexes(of: segment)
        var wanted = [Bool](repeating: false, count: PCCRR.Limits.blocksPerSegment)
        for range in asked.neededRanges {
            for index in range.indices { wanted[index] = true }
        }
        var ranges: [BlockRange] = []
        for index in 0..<PCCRR.Limits.blocksPerSegment where wanted[index] && held[index] {
            if let last = ranges.last, Int(last.index + last.count) == index {
                ranges[ranges.count - 1].count += 1
            } else {
                ranges.append(BlockRange(index: UInt32(index), count: 1))
            }
        }
        let end = asked.neededRanges.map { $0.indices.upperBound }.max() ?? 0
        let next = (end..<PCCRR.Limits.blocksPerSegment).first { held[$0] } ?? 0
        return PCCRRBlockList(segmentID: asked.segmentID, ranges: ranges, nextBlockIndex: UInt32(next))
    }

    /// The requested segments the source holds every block of, as ranges of indexes into the
    /// request's list, with an extensible blob of no ages (this node keeps none).
    private func segmentList(_ asked: PCCRRGetSegmentList) -> PCCRRSegmentList {
        var ranges: [BlockRange] = []
        for (position, id) in asked.segmentIDs.enumerated() {
            if let segment = source.segment(withID: id) {
                let held = source.heldBlocks(of: segment).reduce(0) { $0 + $1.indices.clamped(to: 0..<segment.blockCount).count }
                guard held == segment.blockCount else { continue }
            } else {
                guard source.holdsSealedSegment(withID: id) else { continue }
            }
            if let last = ranges.last, Int(last.index + last.count) == position {
                ranges[ranges.count - 1].count += 1
            } else {
                ranges.append(BlockRange(index: UInt32(position), count: 1))
            }
        }
        return PCCRRSegmentList(requestID: asked.requestID, ranges: ranges, extensibleBlob: PCCRRSegmentAges().blob)
    }

    private func block(_ index: UInt32, of segment: SegmentDescription, asked: PCCRRGetBlocks, algorithm: PCCRRCryptoAlgorithm) -> PCCRRMessage {
        let position = Int(index)
        guard position < segment.blockCount, let plaintext = source.verifiedBlock(of: segment, index: position) else {
            return PCCRRMessage(.block(.notHeld(segmentID: asked.segmentID, blockIndex: index)))
        }
        let held = heldIndexes(of: segment)
        let next = ((position + 1)..<PCCRR.Limits.blocksPerSegment).first { held[$0] } ?? 0
        guard let (block, iv) = try? cipher.encrypt(plaintext, algorithm: algorithm, segmentSecret: segment.segmentSecret) else {
            // Kp too short for the key asked for (SHA-384/512 content never is): not served.
            return PCCRRMessage(.block(.notHeld(segmentID: asked.segmentID, blockIndex: index)))
        }
        return PCCRRMessage(
            .block(PCCRRBlock(segmentID: asked.segmentID, blockIndex: index, nextBlockIndex: UInt32(next), block: block, initializationVector: iv)),
            cryptoAlgorithm: algorithm)
    }

    /// Block 0 of a sealed segment, as it was pulled, to a request for the CryptoAlgoId it was
    /// pulled under; the cache cannot decrypt it to answer any other.
    private func sealedBlock(_ index: UInt32, asked: PCCRRGetBlocks, algorithm: PCCRRCryptoAlgorithm) -> PCCRRMessage {
        guard index == 0, let sealed = source.sealedSegment(withID: asked.segmentID), sealed.cryptoAlgorithm == algorithm else {
            return PCCRRMessage(.block(.notHeld(segmentID: asked.segmentID, blockIndex: index)))
        }
        return PCCRRMessage(
            .block(PCCRRBlock(segmentID: asked.segmentID, blockIndex: 0, nextBlockIndex: 0, block: sealed.block, initializationVector: sealed.initializationVector)),
            cryptoAlgorithm: algorithm)
    }

    private func heldIndexes(of segment: SegmentDescription) -> [Bool] {
        var held = [Bool](repeating: false, count: PCCRR.Limits.blocksPerSegment)
        for range in source.heldBlocks(of: segment) {
            for index in range.indices.clamped(to: 0..<min(segment.blockCount, held.count)) { held[index] = true }
        }
        return held
    }
}
