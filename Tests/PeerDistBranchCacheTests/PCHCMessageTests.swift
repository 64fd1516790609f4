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
        #expect(throws: BranchCacheError.self, "BATCHED_OFFER") { try PCHCMessage(decoding: bytes) }
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
