import PeerDistHashing
import Testing
@testable import PeerDistBranchCache

/// MS-PCHC requests and responses: round trips, the byte order the Microsoft test suite shows
/// (header fields big-endian, the segment's Content Information little-endian), every
/// truncation, and fields out of range.
@Suite struct PCHCMessageTests {
    static let segment = TestSegments.version1.0.segments[0]
    static let tag = [UInt8](repeating: 0x7A, count: 16)

    static var offer: PCHCMessage { PCHCMessage(port: 8080, body: .initialOffer(segmentID: segment.segmentID)) }
    static var info: PCHCMessage {
        guard let message = PCHCMessage.segmentInfo(port: 8080, contentTag: tag, segment: segment, algorithm: .sha256) else {
            fatalError("SHA-256 version 1 content always has a SEGMENT_INFO")
        }
        return message
    }

    @Test func anInitialOfferIsAHeaderAndTheSegmentID() throws {
        let bytes = Self.offer.encoded()
        #expect(Array(bytes.prefix(16)) == [0, 1, 0, 1, 0, 0, 0, 0, 0x1F, 0x90, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes.dropFirst(16)) == Self.segment.segmentID.bytes)
        #expect(try PCHCMessage(decoding: bytes) == Self.offer)
    }

    @Test func segmentInfoCarriesOneSegmentsContentInformation() throws {
        let bytes = Self.info.encoded()
        #expect(Array(bytes[2..<4]) == [0, 2])
        #expect(Array(bytes[16..<32]) == Self.tag)
        // Version 0x0100 and SHA-256's CALG, little-endian; then dwReadBytesInLastSegment = the segment.
        #expect(Array(bytes[32..<38]) == [0x00, 0x01, 0x0C, 0x80, 0x00, 0x00])
        #expect(bytes.count == 32 + 18 + 80 + 4 + 2 * 32)
        let decoded = try PCHCMessage(decoding: bytes)
        #expect(decoded == Self.info)
        #expect(try decoded.describedSegment() == Self.segment)
    }

    static var batched: PCHCMessage {
        let segment = TestSegments.version2.0.segments[0]
        return PCHCMessage(majorVersion: 2, port: 8080, body: .batchedOffer([
            PCHCSegmentDescriptor(segmentSize: segment.length, contentTag: tag, segmentID: segment.segmentID),
            PCHCSegmentDescriptor(segmentSize: 131_072, contentTag: [1, 2, 3], segmentID: HashValue([UInt8](repeating: 0xEE, count: 32))),
        ]))
    }

    /// The layout of Microsoft's test suite: BlockSize, SegmentSize (4 each), SizeOfContentTag
    /// (2), the tag, HashAlgorithm (1) and the 32-byte HoHoDk, big-endian, one after another.
    @Test func aBatchedOfferListsSegmentDescriptors() throws {
        let bytes = Self.batched.encoded()
        #expect(Array(bytes.prefix(16)) == [0, 2, 0, 3, 0, 0, 0, 0, 0x1F, 0x90, 0, 0, 0, 0, 0, 0])
        let segment = TestSegments.version2.0.segments[0]
        #expect(Array(bytes[16..<26]) == [0, 0, 0x03, 0xE8, 0, 0, 0x03, 0xE8, 0, 16])
        #expect(Array(bytes[26..<42]) == Self.tag)
        #expect(bytes[42] == 4)
        #expect(Array(bytes[43..<75]) == segment.segmentID.bytes)
        #expect(Array(bytes[75..<85]) == [0, 2, 0, 0, 0, 2, 0, 0, 0, 3])
        #expect(bytes.count == 16 + 59 + 46)
        #expect(try PCHCMessage(decoding: bytes) == Self.batched)
    }

    /// Cut anywhere but between descriptors, a batch is refused; cut there, it is the shorter batch.
    @Test func batchedOffersCutMidDescriptorAreRefused() throws {
        let bytes = Self.batched.encoded()
        for length in 0..<bytes.count {
            if length == 16 + 59 {
                guard case .batchedOffer(let first) = try PCHCMessage(decoding: bytes.prefix(length)).body else { Issue.record("not a batch"); continue }
                #expect(first.count == 1)
                continue
            }
            #expect(throws: BranchCacheError.self, "cut to \(length) of \(bytes.count)") { try PCHCMessage(decoding: bytes.prefix(length)) }
        }
    }

    @Test func batchedOffersOutOfRangeAreRefused() throws {
        let header = Array(Self.batched.encoded().prefix(16))
        let one = PCHCSegmentDescriptor(segmentSize: 1000, contentTag: Self.tag, segmentID: HashValue([UInt8](repeating: 1, count: 32)))
        func encoded(_ descriptors: [PCHCSegmentDescriptor]) -> [UInt8] {
            PCHCMessage(majorVersion: 2, port: 8080, body: .batchedOffer(descriptors)).encoded()
        }
        #expect(throws: BranchCacheError.self, "no descriptors") { try PCHCMessage(decoding: header) }
        #expect(throws: BranchCacheError.self, "513 descriptors") {
            try PCHCMessage(decoding: encoded(Array(repeating: PCHCSegmentDescriptor(segmentSize: 1, contentTag: [1], segmentID: one.segmentID), count: 513)))
        }
        #expect(try PCHCMessage(decoding: encoded(Array(repeating: one, count: 512))).body == .batchedOffer(Array(repeating: one, count: 512)))
        var version1 = encoded([one])
        version1[1] = 1
        #expect(throws: BranchCacheError.self, "a batch in version 1.0") { try PCHCMessage(decoding: version1) }
        for (change, reason) in [
            ({ (d: inout PCHCSegmentDescriptor) in d.contentTag = [] }, "an empty content tag"),
            ({ d in d.hashAlgorithm = 2 }, "hash algorithm 2"),
            ({ d in d.segmentSize = 0; d.blockSize = 0 }, "an empty segment"),
            ({ d in d.segmentSize = 131_073; d.blockSize = 131_073 }, "a segment over 128 KiB"),
            ({ d in d.blockSize = 1001 }, "a block larger than its segment"),
        ] as [((inout PCHCSegmentDescriptor) -> Void, String)] {
            var descriptor = one
            change(&descriptor)
            #expect(throws: BranchCacheError.self, "\(reason)") { try PCHCMessage(decoding: encoded([one, descriptor])) }
        }
    }

    @Test(arguments: [offer, info]) func everyTruncationIsRefused(_ message: PCHCMessage) {
        let bytes = message.encoded()
        for length in 0..<bytes.count {
            #expect(throws: BranchCacheError.self, "cut to \(length) of \(bytes.count)") { try PCHCMessage(decoding: bytes.prefix(length)) }
        }
    }

    @Test func fieldsOutOfRangeAreRefused() {
        var bytes = Self.offer.encoded()
        bytes[1] = 3
        #expect(throws: BranchCacheError.self, "version 3") { try PCHCMessage(decoding: bytes) }
        bytes = Self.offer.encoded()
        bytes[3] = 3
        #expect(throws: BranchCacheError.self, "a BATCHED_OFFER in version 1.0") { try PCHCMessage(decoding: bytes) }
        bytes[3] = 9
        #expect(throws: BranchCacheError.self, "type 9") { try PCHCMessage(decoding: bytes) }
        #expect(throws: BranchCacheError.self, "a 33-byte ID") { try PCHCMessage(decoding: Self.offer.encoded() + [0]) }
        #expect(throws: BranchCacheError.self, "trailing bytes after the segment") { try PCHCMessage(decoding: Self.info.encoded() + [0, 0, 0, 0]) }
        // Content Information for several segments, or version 2, is no SEGMENT_INFO.
        let twoSegments = Array(TestSegments.version2.0.encoded())
        let header = Array(Self.info.encoded().prefix(32))
        #expect(throws: BranchCacheError.self) { try PCHCMessage(decoding: header + twoSegments) }
        #expect(throws: BranchCacheError.self, "oversized") { try PCHCMessage(decoding: header + Array(repeating: 0, count: PCHCMessage.maximumBytes)) }
    }

    @Test func responsesAreOneByte() throws {
        #expect(PCHCResponse.interested.encoded() == [0, 0, 0, 1, 1])
        #expect(try PCHCResponse(decoding: [0, 0, 0, 1, 0]) == .ok)
        for bad: [UInt8] in [[], [0, 0, 0, 1], [0, 0, 0, 2, 0, 0], [0, 0, 0, 1, 2], [0, 0, 0, 1, 0, 0]] {
            #expect(throws: BranchCacheError.self, "\(bad)") { try PCHCResponse(decoding: bad) }
        }
    }
}
