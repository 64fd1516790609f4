import Crypto

/// Hashes content that arrives piece by piece (a pipe, a download), on the calling thread, in
/// constant memory. `FileHasher` spreads a file over all cores and gives the same result.
public final class StreamingContentHasher {
    public let version: ContentInformationVersion
    private var segments: [HashedContent.Segment] = []
    private var length: UInt64 = 0
    private var segmentStart: UInt64 = 0

    // Version 1 state.
    private var block = SHA256()
    private var blockFill = 0
    private var blockHashes: [HashValue] = []

    // Version 2 state.
    private var chunker = GearChunker()
    private let sha512 = SHA512Context()

    public init(version: ContentInformationVersion) {
        self.version = version
        sha512.begin()
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        switch version {
        case .v1: updateVersion1(bytes)
        case .v2: updateVersion2(bytes)
        }
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The hashes of everything passed to `update`.
    public func finalize() -> HashedContent {
        switch version {
        case .v1:
            if blockFill > 0 { finishBlock() }
            if !blockHashes.isEmpty { finishVersion1Segment() }
        case .v2:
            if length > segmentStart { finishVersion2Segment() }
        }
        return HashedContent(version: version, length: length, segments: segments)
    }

    private func updateVersion1(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(rest.count, ContentInformationV1.blockSize - blockFill)
            block.update(bufferPointer: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            blockFill += take
            length += UInt64(take)
            rest = rest.dropFirst(take)
            if blockFill == ContentInformationV1.blockSize { finishBlock() }
        }
    }

    private func finishBlock() {
        blockHashes.append(HashValue(block.finalize()))
        block = SHA256()
        blockFill = 0
        if blockHashes.count == ContentInformationV1.blocksPerSegment { finishVersion1Segment() }
    }

    private func finishVersion1Segment() {
        segments.append(HashedContent.version1Segment(offset: segmentStart, length: UInt32(length - segmentStart), blockHashes: blockHashes))
        segmentStart = length
        blockHashes.removeAll(keepingCapacity: true)
    }

    private func updateVersion2(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let (consumed, isBoundary) = chunker.scan(UnsafeRawBufferPointer(rebasing: rest))
            sha512.update(UnsafeRawBufferPointer(rebasing: rest.prefix(consumed)))
            length += UInt64(consumed)
            rest = rest.dropFirst(consumed)
            if isBoundary { finishVersion2Segment() }
        }
    }

    private func finishVersion2Segment() {
        let hashOfData = sha512.finish(truncatedTo: 32)
        segments.append(HashedContent.Segment(offset: segmentStart, length: UInt32(length - segmentStart), hashOfData: hashOfData, blockHashes: []))
        segmentStart = length
        chunker = GearChunker()
        sha512.begin()
    }
}
