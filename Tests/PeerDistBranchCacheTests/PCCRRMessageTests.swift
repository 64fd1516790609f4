import NIOCore
import PeerDistHashing
import PeerDistWire
import Testing
@testable import PeerDistBranchCache

@Suite struct PCCRRMessageTests {
    static let segmentID = HashValue(hex: "491b217dbee2b5f12ca79b015e06f4bbe64f9745bad7867aef17de59927edce9")!
    static let longID = HashValue([UInt8](repeating: 0x5A, count: 48))

    static let requests: [PCCRRMessage] = [
        PCCRRMessage(.negotiationRequest(PCCRRNegotiation(minimumVersion: .v1, maximumVersion: .v2))),
        PCCRRMessage(.getBlockList(PCCRRGetBlockList(segmentID: segmentID, neededRanges: [BlockRange(index: 0, count: 512)])), cryptoAlgorithm: .aes128),
        PCCRRMessage(.getBlockList(PCCRRGetBlockList(segmentID: longID, neededRanges: [BlockRange(index: 3, count: 2), BlockRange(index: 511, count: 1)]))),
        PCCRRMessage(.getBlocks(PCCRRGetBlocks(segmentID: segmentID, ranges: [BlockRange(index: 1, count: 1)])), cryptoAlgorithm: .aes256),
        PCCRRMessage(.getBlocks(PCCRRGetBlocks(segmentID: segmentID, ranges: [BlockRange(index: 9, count: 3)], verifierData: [1, 2, 3, 4, 5]))),
        PCCRRMessage(.getSegmentList(PCCRRGetSegmentList(requestID: Array(0..<16), segmentIDs: [segmentID])), cryptoAlgorithm: .aes128),
        PCCRRMessage(.getSegmentList(PCCRRGetSegmentList(requestID: Array(repeating: 9, count: 16), segmentIDs: [longID, segmentID], extensibleBlob: [0, 1, 3, 0]))),
    ]
    static let responses: [PCCRRMessage] = [
        PCCRRMessage(.negotiationResponse(.supported)),
        PCCRRMessage(.blockList(PCCRRBlockList(segmentID: segmentID, ranges: [], nextBlockIndex: 0))),
        PCCRRMessage(.blockList(PCCRRBlockList(segmentID: longID, ranges: [BlockRange(index: 0, count: 2), BlockRange(index: 7, count: 505)], nextBlockIndex: 0))),
        PCCRRMessage(.block(.notHeld(segmentID: segmentID, blockIndex: 4))),
        PCCRRMessage(.block(PCCRRBlock(segmentID: segmentID, blockIndex: 1, nextBlockIndex: 2, block: [9, 8, 7, 6, 5], initializationVector: []))),
        PCCRRMessage(
            .block(PCCRRBlock(segmentID: segmentID, blockIndex: 511, nextBlockIndex: 0, block: Array(repeating: 0xEE, count: 64), verifierBlock: [1], initializationVector: Array(0..<16))),
            cryptoAlgorithm: .aes192),
        PCCRRMessage(.segmentList(PCCRRSegmentList(requestID: Array(0..<16), ranges: []))),
        PCCRRMessage(.segmentList(PCCRRSegmentList(
            requestID: Array(0..<16), ranges: [BlockRange(index: 0, count: 2), BlockRange(index: 5, count: 1)],
            extensibleBlob: PCCRRSegmentAges(unit: .milliseconds, ages: [(0, 12), (5, 0xFF_FFFF)]).blob))),
    ]

    // MARK: Round trips

    @Test(arguments: requests) func requestsRoundTrip(_ message: PCCRRMessage) throws {
        let bytes = message.encodedRequest()
        #expect(bytes.count % 4 == 0, "every field is padded to 4 bytes")
        #expect(try PCCRRMessage(request: bytes) == message)
        #expect(throws: BranchCacheError.self, "a request is not a response") { try PCCRRMessage(response: message.encodedResponse()) }
    }

    @Test(arguments: responses) func responsesRoundTrip(_ message: PCCRRMessage) throws {
        let bytes = message.encodedResponse()
        #expect(Array(bytes.prefix(4)) == Array(bytes[12..<16]), "the transport header repeats MsgSize")
        #expect(try PCCRRMessage(response: bytes) == message)
        #expect(throws: BranchCacheError.self, "a response is not a request") { try PCCRRMessage(request: message.encodedRequest()) }
    }

    // MARK: The reference's layouts

    @Test func negotiationRequestMatchesTheReference() throws {
        let bytes = PCCRRVectors.bytes(PCCRRVectors.shared.pccrr_messages.nego_req_min1_0_max2_0_hex)
        let message = try PCCRRMessage(request: bytes)
        #expect(message == PCCRRMessage(.negotiationRequest(PCCRRNegotiation(minimumVersion: .v1, maximumVersion: .v2))))
        #expect(message.encodedRequest() == bytes)
    }

    @Test func getBlocksAsIPXESendsIt() throws {
        let bytes = PCCRRVectors.bytes(PCCRRVectors.shared.pccrr_messages.getblks_ipxe_v1_segment0_block1_aes128_hex)
        let message = try PCCRRMessage(request: bytes)
        #expect(message == PCCRRMessage(
            .getBlocks(PCCRRGetBlocks(segmentID: Self.segmentID, ranges: [BlockRange(index: 1, count: 1)])), cryptoAlgorithm: .aes128))
        #expect(message.encodedRequest() == bytes)
        #expect(bytes.count == 68)
    }

    @Test func getBlockListAsIPXEWouldSendIt() throws {
        let bytes = PCCRRVectors.bytes(PCCRRVectors.shared.pccrr_messages.getblklist_ipxe_v1_segment0_blocks0to1_hex)
        let message = try PCCRRMessage(request: bytes)
        #expect(message == PCCRRMessage(
            .getBlockList(PCCRRGetBlockList(segmentID: Self.segmentID, neededRanges: [BlockRange(index: 0, count: 2)])), cryptoAlgorithm: .aes128))
        #expect(message.encodedRequest() == bytes)
    }

    @Test func notHeldBlockAsPythonPeerDistSendsIt() throws {
        let bytes = PCCRRVectors.bytes(PCCRRVectors.shared.pccrr_messages.msg_blk_not_found_hex)
        let message = try PCCRRMessage(response: bytes)
        #expect(message == PCCRRMessage(.block(PCCRRBlock(segmentID: Self.segmentID, blockIndex: 1, nextBlockIndex: 0, block: [], initializationVector: []))))
        #expect(message.encodedResponse() == bytes)
    }

    // MARK: Truncation, padding, trailing bytes

    /// Every prefix of every message fails: first on MsgSize, and again with MsgSize (and the
    /// transport header) rewritten to the prefix, so the body's own reads meet the end; only
    /// the final padding may be missing.
    @Test(arguments: requests + responses) func everyTruncationIsRefused(_ message: PCCRRMessage) {
        let isRequest = message.type.isRequest
        let whole = message.encoded()
        for length in 0..<whole.count {
            var prefix = Array(whole.prefix(length))
            #expect(throws: BranchCacheError.self) { try decode(prefix, request: isRequest) }
            guard length >= 12 else { continue }
            prefix.replaceSubrange(8..<12, with: bigEndian(UInt32(length)))
            do {
                let decoded = try decode(prefix, request: isRequest)
                // Only the padding after the last field may go (python-peerdist leaves it out).
                #expect(decoded == message && whole.count - length < 4 && whole[length...].allSatisfy { $0 == 0 },
                        "\(message.type) cut to \(length) of \(whole.count) bytes was accepted")
            } catch {
                #expect(error.code == .malformed)
                #expect(error.message.contains("byte"), "names the offset: \(error.message)")
            }
        }
    }

    @Test func paddingFollowsVariableFieldsAndMayBeMissingAtTheEnd() throws {
        let block = PCCRRMessage(.block(PCCRRBlock(segmentID: Self.segmentID, blockIndex: 0, nextBlockIndex: 0, block: [1, 2, 3, 4, 5], initializationVector: [])))
        let bytes = block.encoded()
        // header 16, SegID 36, indexes 8, size 4, block 5 + 3 padding, then two empty fields.
        #expect(bytes.count == 16 + 36 + 8 + 4 + 8 + 4 + 4)
        #expect(Array(bytes[(16 + 36 + 8 + 4 + 5)..<(16 + 36 + 8 + 4 + 8)]) == [0, 0, 0])
        // Padding bytes are ignored, as MS-PCCRR asks of receivers.
        var dirty = bytes
        dirty[16 + 36 + 8 + 4 + 5] = 0xFF
        #expect(try PCCRRMessage(response: [0, 0, 0, UInt8(dirty.count)] + dirty) == block)

        // python-peerdist leaves out the padding after a message's last field.
        let request = PCCRRMessage(.getBlocks(PCCRRGetBlocks(segmentID: Self.segmentID, ranges: [BlockRange(index: 0, count: 1)], verifierData: [7])))
        var short = Array(request.encoded().dropLast(3))
        short.replaceSubrange(8..<12, with: bigEndian(UInt32(short.count)))
        #expect(try PCCRRMessage(request: short) == request)
    }

    @Test func bytesAfterTheMessageAreRefused() {
        var bytes = Self.requests[3].encoded() + [0, 0, 0, 0]
        bytes.replaceSubrange(8..<12, with: bigEndian(UInt32(bytes.count)))
        #expect(throws: BranchCacheError.self) { try PCCRRMessage(request: bytes) }
    }

    // MARK: Fields out of range

    /// GETBLKLIST for Self.segmentID with its range count and first range replaced.
    private func getBlockList(count: UInt32, index: UInt32, blocks: UInt32) -> [UInt8] {
        var body = bigEndian(32) + Self.segmentID.bytes + bigEndian(count) + bigEndian(index) + bigEndian(blocks)
        body = bigEndian(0x0000_0001) + bigEndian(2) + bigEndian(UInt32(16 + body.count)) + bigEndian(1) + body
        return body
    }

    @Test func rangesOutsideTheSegmentAreRefused() throws {
        #expect(try PCCRRMessage(request: getBlockList(count: 1, index: 511, blocks: 1)).type == .getBlockList)
        for (count, index, blocks, reason) in [
            (0, 0, 1, "outside 1…256"), (1, 512, 1, "past the segment"), (1, 0, 0, "holds 1 to 512"),
            (1, 500, 13, "holds 1 to 12"), (1, 1, UInt32.max, "holds 1 to 511"), (257, 0, 1, "more than the"),
        ] as [(UInt32, UInt32, UInt32, String)] {
            do {
                _ = try PCCRRMessage(request: getBlockList(count: count, index: index, blocks: blocks))
                Issue.record("count \(count), range \(index)+\(blocks) accepted")
            } catch {
                #expect(error.code == .malformed)
                #expect(error.message.contains(reason), "\(error.message)")
                #expect(error.message.hasPrefix("MSG_GETBLKLIST, byte"), "\(error.message)")
            }
        }
    }

    @Test func segmentIDsOfOtherSizesAreRefused() {
        for size: UInt32 in [0, 16, 31, 33, 65, .max] {
            var bytes = Self.requests[1].encoded()
            bytes.replaceSubrange(16..<20, with: bigEndian(size))
            #expect(throws: BranchCacheError.self, "a \(size)-byte ID") { try PCCRRMessage(request: bytes) }
        }
    }

    @Test func headerFieldsOutOfRangeAreRefused() {
        let good = Self.requests[3].encoded()
        func patched(_ offset: Int, _ value: UInt32) -> [UInt8] {
            var bytes = good
            bytes.replaceSubrange(offset..<offset + 4, with: bigEndian(value))
            return bytes
        }
        #expect(throws: BranchCacheError.self, "MsgType 8") { try PCCRRMessage(request: patched(4, 8)) }
        #expect(throws: BranchCacheError.self, "a response type in a request") { try PCCRRMessage(request: patched(4, 5)) }
        #expect(throws: BranchCacheError.self, "MsgSize too small") { try PCCRRMessage(request: patched(8, UInt32(good.count - 1))) }
        #expect(throws: BranchCacheError.self, "MsgSize too large") { try PCCRRMessage(request: patched(8, UInt32.max)) }
        #expect(throws: BranchCacheError.self, "CryptoAlgoId 4") { try PCCRRMessage(request: patched(12, 4)) }
        #expect(throws: BranchCacheError.self, "NEGO with min above max") {
            try PCCRRMessage(request: bigEndian(1) + bigEndian(0) + bigEndian(24) + bigEndian(0) + bigEndian(2) + bigEndian(1))
        }
        // Version 2.0 block messages are not ours: answered with MSG_NEGO_RESP, not dropped.
        do {
            _ = try PCCRRMessage(request: patched(0, 2))
            Issue.record("GETBLKS 2.0 accepted")
        } catch {
            #expect(error.code == .unsupportedVersion)
        }
        // GETSEGLIST naming no segment.
        var segmentList = bigEndian(2) + bigEndian(6) + bigEndian(0) + bigEndian(0) + Array(repeating: 0, count: 24)
        segmentList.replaceSubrange(8..<12, with: bigEndian(UInt32(segmentList.count)))
        #expect((try? PCCRRMessage(request: segmentList)) == nil)
        // The segment lists travel as 2.0: in 1.0 they are answered with MSG_NEGO_RESP.
        var oldSegmentList = Self.requests[5].encoded()
        oldSegmentList.replaceSubrange(0..<4, with: bigEndian(1))
        do {
            _ = try PCCRRMessage(request: oldSegmentList)
            Issue.record("GETSEGLIST 1.0 accepted")
        } catch {
            #expect(error.code == .unsupportedVersion)
        }
    }

    // MARK: The segment lists (version 2.0)

    @Test func segmentListsTravelAsVersion2WithTheirLayout() throws {
        let request = Self.requests[5].encoded()
        // header 16, RequestID 16, count 4, one SegID 36, an empty blob's size 4.
        #expect(request.count == 16 + 16 + 4 + 36 + 4)
        #expect(Array(request[0..<8]) == [0, 0, 0, 2, 0, 0, 0, 6])
        #expect(Array(request[16..<32]) == Array(0..<16))
        #expect(Array(request[32..<36]) == bigEndian(1))
        let response = Self.responses[7].encoded()
        #expect(Array(response[0..<8]) == [0, 0, 0, 2, 0, 0, 0, 7])
        // RequestID, two ranges, then the blob: Version 1, units 4 (ms), two ages low byte first.
        #expect(Array(response[32..<36]) == bigEndian(2))
        #expect(Array(response[36..<52]) == bigEndian(0) + bigEndian(2) + bigEndian(5) + bigEndian(1))
        #expect(Array(response[52...]) == bigEndian(12) + [0, 1, 4, 2, 0, 12, 0, 0, 5, 0xFF, 0xFF, 0xFF])
    }

    @Test func segmentListFieldsOutOfRangeAreRefused() {
        func getSegmentList(count: UInt32, ids: Int, blob: [UInt8] = []) -> [UInt8] {
            var body = Array(repeating: UInt8(1), count: 16) + bigEndian(count)
            for _ in 0..<ids { body += bigEndian(32) + Self.segmentID.bytes }
            body += bigEndian(UInt32(blob.count)) + blob
            return bigEndian(2) + bigEndian(6) + bigEndian(UInt32(16 + body.count)) + bigEndian(0) + body
        }
        #expect((try? PCCRRMessage(request: getSegmentList(count: 2, ids: 2))) != nil)
        #expect(throws: BranchCacheError.self, "more IDs counted than sent") { try PCCRRMessage(request: getSegmentList(count: 3, ids: 2)) }
        #expect(throws: BranchCacheError.self, "no IDs") { try PCCRRMessage(request: getSegmentList(count: 0, ids: 0)) }
        #expect(throws: BranchCacheError.self, "a blob past the limit") {
            try PCCRRMessage(request: getSegmentList(count: 1, ids: 1, blob: Array(repeating: 0, count: PCCRR.Limits.maximumExtensibleBlobBytes + 4)))
        }
        // Past the 2 048-ID limit, though the request fits the byte limit only just; a count
        // larger than the bytes that follow could hold is refused before anything is allocated.
        #expect(throws: BranchCacheError.self) { try PCCRRMessage(request: getSegmentList(count: UInt32.max, ids: 1)) }

        func segmentList(ranges: [(UInt32, UInt32)], count: UInt32? = nil) -> [UInt8] {
            var body = Array(repeating: UInt8(1), count: 16) + bigEndian(count ?? UInt32(ranges.count))
            for (index, segments) in ranges { body += bigEndian(index) + bigEndian(segments) }
            body += bigEndian(0)
            let message = bigEndian(2) + bigEndian(7) + bigEndian(UInt32(16 + body.count)) + bigEndian(0) + body
            return bigEndian(UInt32(message.count)) + message
        }
        #expect((try? PCCRRMessage(response: segmentList(ranges: [(0, 3)]))) != nil)
        #expect(throws: BranchCacheError.self, "a range of no segments") { try PCCRRMessage(response: segmentList(ranges: [(1, 0)])) }
        #expect(throws: BranchCacheError.self, "index and count overflow") { try PCCRRMessage(response: segmentList(ranges: [(UInt32.max, 2)])) }
        #expect(throws: BranchCacheError.self, "past the most a request names") {
            try PCCRRMessage(response: segmentList(ranges: [(UInt32(PCCRR.Limits.maximumSegmentIDs), 1)]))
        }
        #expect(throws: BranchCacheError.self, "more ranges counted than sent") { try PCCRRMessage(response: segmentList(ranges: [(0, 1)], count: 2)) }
        // A client checks the ranges against its own request.
        let list = PCCRRSegmentList(requestID: [], ranges: [BlockRange(index: 1, count: 2)])
        #expect(list.fits(segmentCount: 3) && !list.fits(segmentCount: 2))
    }

    @Test func segmentAgesParseOrAreDiscarded() {
        let ages = PCCRRSegmentAges(unit: .tenthsOfASecond, ages: [(3, 70_000), (4, 1)])
        #expect(PCCRRSegmentAges(blob: ages.blob) == ages)
        #expect(ages.blob == [0, 1, 2, 2, 3, 0x70, 0x11, 0x01, 4, 1, 0, 0])
        #expect(PCCRRSegmentAges(blob: [0, 1, 3, 0]) == PCCRRSegmentAges())
        // The reference's checks: at least 4 bytes, version 1, units 1 to 4, room for every age.
        #expect(PCCRRSegmentAges(blob: [0, 1, 3]) == nil)
        #expect(PCCRRSegmentAges(blob: [0, 2, 3, 0]) == nil)
        #expect(PCCRRSegmentAges(blob: [0, 1, 0, 0]) == nil)
        #expect(PCCRRSegmentAges(blob: [0, 1, 5, 0]) == nil)
        #expect(PCCRRSegmentAges(blob: [0, 1, 3, 2, 0, 0, 0, 0]) == nil)
    }

    @Test func oversizedMessagesAreRefusedBeforeReading() {
        var request = Self.requests[4].encoded() + Array(repeating: 0, count: PCCRR.Limits.maximumRequestBytes)
        request.replaceSubrange(8..<12, with: bigEndian(UInt32(request.count)))
        #expect(throws: BranchCacheError.self) { try PCCRRMessage(request: request) }
        // A block length past what the message holds.
        var block = Self.responses[4].encodedResponse()
        block.replaceSubrange(4 + 16 + 36 + 8..<4 + 16 + 36 + 12, with: bigEndian(UInt32.max))
        #expect(throws: BranchCacheError.self) { try PCCRRMessage(response: block) }
    }

    @Test func transportHeaderMustMatchTheMessage() {
        var bytes = Self.responses[0].encodedResponse()
        bytes[3] &+= 1
        #expect(throws: BranchCacheError.self) { try PCCRRMessage(response: bytes) }
    }

    @Test func ivsOtherThanOneAESBlockAreRefused() {
        let message = PCCRRMessage(.block(PCCRRBlock(segmentID: Self.segmentID, blockIndex: 0, nextBlockIndex: 0, block: [1], initializationVector: [])))
        for size in [1, 8, 15, 17, 32] {
            var block = message
            if case .block(var body) = block.body {
                body.initializationVector = Array(repeating: 1, count: size)
                block.body = .block(body)
            }
            #expect(throws: BranchCacheError.self, "a \(size)-byte IV") { try PCCRRMessage(response: block.encodedResponse()) }
        }
    }

    private func decode(_ bytes: [UInt8], request: Bool) throws(BranchCacheError) -> PCCRRMessage {
        request ? try PCCRRMessage(request: bytes) : try PCCRRMessage(response: bigEndian(UInt32(bytes.count)) + bytes)
    }
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}
