import PeerDistHashing

/// One content's Content Information and the block numbering the store derives from it: blocks
/// are numbered across the whole content (segment 0's blocks first), which is how the bitmap of a
/// download and the byte offsets of the cache file are addressed.
///
/// Built only from Content Information that describes the whole content its ID names (checked by
/// `init(id:information:)`), so every block of the content has a hash to be verified against.
final class ContentLayout: Sendable {
    let id: ContentID
    let information: ContentInformation
    let segments: [SegmentDescription]
    /// `firstBlock[s]` is the number of segment `s`'s first block; one extra entry holds the total.
    private let firstBlock: [Int]
    let length: UInt64

    var blockCount: Int { firstBlock[firstBlock.count - 1] }
    var version: ContentInformationVersion { information.version == 1 ? .v1 : .v2 }

    /// Layout of content the store hashed itself, whose Content Information is right by construction.
    init(id: ContentID, hashed: HashedContent) {
        self.id = id
        self.information = ContentInformation(hashed: hashed, secret: id.serverSecret)
        self.segments = information.segments
        self.length = hashed.length
        self.firstBlock = Self.blockNumbering(segments)
    }

    /// Layout of content described by someone else. The blob must describe the whole content, its
    /// segments must hash to `id`, and each version 1 segment's hash of data must be the hash of
    /// its block hashes; the store then keeps the blob PeerDist itself would build for `id`, so
    /// the segment secrets and IDs are those every other holder of the ID derives.
    init(id: ContentID, information: ContentInformation) throws(StoreError) {
        let hashed = try Self.hashedContent(of: information, id: id)
        guard ContentID(hashed) == id else {
            throw StoreError(.invalidInformation, "the Content Information offered for \(id.shortName) describes other content")
        }
        self.id = id
        self.information = ContentInformation(hashed: hashed, secret: id.serverSecret)
        self.segments = self.information.segments
        self.length = hashed.length
        self.firstBlock = Self.blockNumbering(segments)
    }

    private static func blockNumbering(_ segments: [SegmentDescription]) -> [Int] {
        var numbering = [0]
        numbering.reserveCapacity(segments.count + 1)
        for segment in segments { numbering.append(numbering[numbering.count - 1] + segment.blockCount) }
        return numbering
    }

    /// The secret-free description the blob carries, after checking that it covers the whole
    /// content with nothing missing.
    private static func hashedContent(of information: ContentInformation, id: ContentID) throws(StoreError) -> HashedContent {
        func invalid(_ reason: String) -> StoreError {
            StoreError(.invalidInformation, "the Content Information offered for \(id.shortName) \(reason)")
        }
        let version: ContentInformationVersion = information.version == 1 ? .v1 : .v2
        guard information.hashAlgorithm == version.hashAlgorithm else {
            throw invalid("uses \(information.hashAlgorithm), not \(version.hashAlgorithm)")
        }
        var segments: [HashedContent.Segment] = []
        var offset: UInt64 = 0
        for segment in information.segments {
            guard segment.offset == offset, segment.length > 0 else {
                throw invalid("does not start at byte 0 with contiguous segments (segment \(segment.index) at byte \(segment.offset))")
            }
            if version == .v1 {
                guard segment.blockSize == UInt32(ContentInformationV1.blockSize), segment.blockHashes.count == segment.blockCount else {
                    throw invalid("lacks block hashes of segment \(segment.index)")
                }
                let concatenated = segment.blockHashes.flatMap(\.bytes)
                guard HashAlgorithm.sha256.digest(concatenated) == segment.hashOfData else {
                    throw invalid("has block hashes of segment \(segment.index) that do not match its hash of data")
                }
            }
            segments.append(HashedContent.Segment(
                offset: offset, length: segment.length, hashOfData: segment.hashOfData,
                blockHashes: version == .v1 ? segment.blockHashes : []))
            offset += UInt64(segment.length)
        }
        guard information.range == 0..<offset || (offset == 0 && information.range.isEmpty) else {
            throw invalid("covers only bytes \(information.range) of \(offset)")
        }
        return HashedContent(version: version, length: offset, segments: segments)
    }

    /// The number of block `block` of segment `segment`, or nil when there is no such block.
    func blockNumber(segment: Int, block: Int) -> Int? {
        guard segments.indices.contains(segment), block >= 0, block < segments[segment].blockCount else { return nil }
        return firstBlock[segment] + block
    }

    /// The blocks of segment `segment`, by number.
    func blockNumbers(ofSegment segment: Int) -> Range<Int> {
        firstBlock[segment]..<firstBlock[segment + 1]
    }

    /// Where block number `number` lies in the content.
    func byteRange(ofBlock number: Int) -> Range<UInt64> {
        let (segment, block) = address(ofBlock: number)
        return segments[segment].blockRange(block)
    }

    /// The segment and block within it of block number `number`.
    func address(ofBlock number: Int) -> (segment: Int, block: Int) {
        // The last segment whose first block is at or before `number`.
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if firstBlock[middle] <= number { low = middle } else { high = middle - 1 }
        }
        return (low, number - firstBlock[low])
    }

    /// Whether `bytes` are exactly block `block` of segment `segment`.
    func verify(_ bytes: [UInt8], segment: Int, block: Int) -> Bool {
        bytes.withUnsafeBytes { verify($0, segment: segment, block: block) }
    }

    func verify(_ bytes: UnsafeRawBufferPointer, segment: Int, block: Int) -> Bool {
        let description = segments[segment]
        let range = description.blockRange(block)
        guard UInt64(bytes.count) == range.upperBound - range.lowerBound else { return false }
        return information.hashAlgorithm.digest(bytes) == description.blockHashes[block]
    }
}
