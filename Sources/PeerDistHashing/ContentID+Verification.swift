/// Checking Content Information that came from a peer against the ID the user asked for, before
/// any of it is trusted: the ID must commit to exactly these segments, every version 1 segment's
/// block hashes must produce its hash of data, and every segment secret must be the one the ID derives.
extension ContentID {
    public struct VerificationError: Error, Hashable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { "Content Information does not match the content ID: \(reason)" }
    }

    /// The ID that whole-content Content Information describes, or `nil` when the blob covers only a range.
    public init?(describing information: ContentInformation) {
        let segments = information.segments
        var expectedOffset: UInt64 = 0
        for segment in segments {
            // Checked although a decoded blob's segments end within UInt64: this takes any value.
            let (end, overflow) = expectedOffset.addingReportingOverflow(UInt64(segment.length))
            guard segment.offset == expectedOffset, !overflow else { return nil }
            expectedOffset = end
        }
        guard information.range == 0..<expectedOffset else { return nil }
        let hashed = HashedContent(
            version: information.version == 1 ? .v1 : .v2, length: expectedOffset,
            segments: segments.map { HashedContent.Segment(offset: $0.offset, length: $0.length, hashOfData: $0.hashOfData, blockHashes: []) })
        guard information.hashAlgorithm == hashed.version.hashAlgorithm else { return nil }
        self.init(hashed)
    }

    public func verify(_ information: ContentInformation) throws(VerificationError) {
        guard let described = ContentID(describing: information) else {
            throw VerificationError(reason: "it does not describe whole content with PeerDist's hash for its version")
        }
        guard described == self else {
            throw VerificationError(reason: "it describes content \(described.hex), not \(hex)")
        }
        let algorithm = information.hashAlgorithm
        let key = serverSecret.hashedKey(for: algorithm)
        for segment in information.segments {
            if information.version == 1 {
                guard segment.blockHashes.count == segment.blockCount else {
                    throw VerificationError(reason: "segment \(segment.index) lists \(segment.blockHashes.count) of its \(segment.blockCount) block hashes")
                }
                var concatenated = ByteSink(capacity: segment.blockHashes.count * algorithm.digestSize)
                segment.blockHashes.forEach { concatenated.append($0) }
                guard algorithm.digest(concatenated.bytes) == segment.hashOfData else {
                    throw VerificationError(reason: "segment \(segment.index)'s block hashes do not produce its hash of data")
                }
            }
            let expected = SegmentKeys.segmentSecret(hashOfData: segment.hashOfData, hashedServerSecret: key, algorithm: algorithm)
            guard expected == segment.segmentSecret else {
                throw VerificationError(reason: "segment \(segment.index)'s secret is not derived from this ID")
            }
        }
    }
}
