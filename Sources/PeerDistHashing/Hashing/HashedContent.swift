/// Which Content Information layout, and so which segmentation and hash, to produce.
public enum ContentInformationVersion: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// 32 MiB segments of 64 KiB blocks, SHA-256.
    case v1 = 1
    /// Content-defined segments of at most 128 KiB, truncated SHA-512.
    case v2 = 2

    public var description: String { "\(rawValue)" }

    /// The hash algorithm PeerDist writes for this version.
    public var hashAlgorithm: HashAlgorithm { self == .v1 ? .sha256 : .sha512Truncated }
}

/// The secret-free result of hashing content: segment boundaries, block hashes and each segment's
/// hash of data. Keys are applied afterwards (`ContentInformation(hashed:secret:)`), so one pass
/// over the bytes serves any server secret and the content ID.
public struct HashedContent: Hashable, Sendable {
    public struct Segment: Hashable, Sendable {
        public var offset: UInt64
        public var length: UInt32
        public var hashOfData: HashValue
        /// Version 1: one hash per 64 KiB block. Version 2: empty, the segment is its own block.
        public var blockHashes: [HashValue]

        public init(offset: UInt64, length: UInt32, hashOfData: HashValue, blockHashes: [HashValue]) {
            self.offset = offset
            self.length = length
            self.hashOfData = hashOfData
            self.blockHashes = blockHashes
        }
    }

    public var version: ContentInformationVersion
    public var length: UInt64
    public var segments: [Segment]

    public init(version: ContentInformationVersion, length: UInt64, segments: [Segment]) {
        self.version = version
        self.length = length
        self.segments = segments
    }

    /// A version 1 segment from its block hashes: HoD = SHA-256(BlockHash₀ ‖ BlockHash₁ ‖ …).
    static func version1Segment(offset: UInt64, length: UInt32, blockHashes: [HashValue]) -> Segment {
        var concatenated = ByteSink(capacity: blockHashes.count * 32)
        blockHashes.forEach { concatenated.append($0) }
        let hashOfData = HashAlgorithm.sha256.digest(concatenated.bytes)
        return Segment(offset: offset, length: length, hashOfData: hashOfData, blockHashes: blockHashes)
    }
}

extension ContentInformation {
    /// Whole-content Content Information for `hashed`, with segment secrets derived from `secret`.
    public init(hashed: HashedContent, secret: ServerSecret) {
        let algorithm = hashed.version.hashAlgorithm
        let key = secret.hashedKey(for: algorithm)
        func secretFor(_ segment: HashedContent.Segment) -> HashValue {
            SegmentKeys.segmentSecret(hashOfData: segment.hashOfData, hashedServerSecret: key, algorithm: algorithm)
        }
        switch hashed.version {
        case .v1:
            self = .version1(ContentInformationV1(segments: hashed.segments.map { segment in
                ContentInformationV1.Segment(
                    offsetInContent: segment.offset, length: segment.length,
                    hashOfData: segment.hashOfData, segmentSecret: secretFor(segment), blockHashes: segment.blockHashes)
            }))
        case .v2:
            let segments = hashed.segments.map { segment in
                ContentInformationV2.Segment(length: segment.length, hashOfData: segment.hashOfData, segmentSecret: secretFor(segment))
            }
            self = .version2(ContentInformationV2(chunks: [ContentInformationV2.Chunk(segments: segments)]))
        }
    }
}
