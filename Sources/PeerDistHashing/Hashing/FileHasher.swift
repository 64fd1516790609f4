import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// Hashes a file on all cores with bounded memory, for files of any size.
///
/// Version 1 cuts the file into runs of 64 blocks that worker threads hash independently, straight
/// from a mapping of the run (where the file cannot be mapped, read with `pread` 256 KiB at a
/// time, so each read lands in cache right before it is hashed); block hashes land at their
/// index, so the result never depends on timing. Version 2 boundaries depend
/// on the bytes before them, so workers chunk and hash 32 MiB regions independently, and each seam
/// between regions is re-chunked from the last true boundary until it meets a boundary the region
/// found too (content-defined cuts resynchronise within a segment or two). The result equals one
/// sequential pass.
///
/// Memory stays at a 4 MiB mapping (or a 1 MiB buffer) per worker plus the hashes, whatever the
/// file's size.
public struct FileHasher: Sendable {
    public let version: ContentInformationVersion
    public let threads: Int

    static let readSize = 256 * 1024
    static let blocksPerTask = 64

    /// - Parameter threads: worker threads; defaults to one per online processor.
    public init(version: ContentInformationVersion, threads: Int? = nil) {
        self.version = version
        self.threads = max(1, threads ?? Self.processorCount)
    }

    public static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    public func hash(path: String) throws(FileHashingError) -> HashedContent {
        try hash(ContentFile(path: path))
    }

    func hash(_ file: ContentFile) throws(FileHashingError) -> HashedContent {
        switch version {
        case .v1: return try hashVersion1(file)
        case .v2: return try hashVersion2(file)
        }
    }

    private func hashVersion1(_ file: ContentFile) throws(FileHashingError) -> HashedContent {
        let size = file.size
        let blockSize = UInt64(ContentInformationV1.blockSize)
        let blockCount = Int((size + blockSize - 1) / blockSize)
        let taskCount = (blockCount + Self.blocksPerTask - 1) / Self.blocksPerTask

        let hashes = UnsafeMutableBufferPointer<HashValue>.allocate(capacity: blockCount)
        hashes.initialize(repeating: HashValue([]))
        defer {
            hashes.deinitialize()
            hashes.deallocate()
        }
        nonisolated(unsafe) let results = hashes
        try WorkerPool.run(tasks: taskCount, workers: threads) { (task, _) throws(FileHashingError) in
            let firstBlock = task * Self.blocksPerTask
            let endBlock = min(blockCount, firstBlock + Self.blocksPerTask)
            let start = UInt64(firstBlock) * blockSize
            let length = Int(min(size, UInt64(endBlock) * blockSize) - start)
            let digests = UnsafeMutableBufferPointer(rebasing: results[firstBlock..<endBlock])
            if try file.sha256Blocks(at: start, length: length, blockSize: Int(blockSize), into: digests) { return }
            // Not mappable here: read it in pieces into a buffer instead.
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 64)
            defer { buffer.deallocate() }
            let blocksPerRead = Self.readSize / ContentInformationV1.blockSize
            for readStart in stride(from: firstBlock, to: endBlock, by: blocksPerRead) {
                let offset = UInt64(readStart) * blockSize
                let end = min(size, UInt64(min(endBlock, readStart + blocksPerRead)) * blockSize)
                let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(end - offset)])
                try file.read(into: bytes, at: offset)
                for (position, block) in stride(from: 0, to: bytes.count, by: Int(blockSize)).enumerated() {
                    let blockBytes = UnsafeRawBufferPointer(rebasing: bytes[block..<min(bytes.count, block + Int(blockSize))])
                    var sha = SHA256()
                    sha.update(bufferPointer: blockBytes)
                    results[readStart + position] = HashValue(sha.finalize())
                }
            }
        }

        let segmentSize = UInt64(ContentInformationV1.segmentSize)
        let blocksPerSegment = ContentInformationV1.blocksPerSegment
        let segments = stride(from: 0, to: blockCount, by: blocksPerSegment).map { firstBlock in
            let offset = UInt64(firstBlock) * blockSize
            return HashedContent.version1Segment(
                offset: offset, length: UInt32(min(segmentSize, size - offset)),
                blockHashes: Array(hashes[firstBlock..<min(blockCount, firstBlock + blocksPerSegment)]))
        }
        return HashedContent(version: .v1, length: size, segments: segments)
    }

    private func hashVersion2(_ file: ContentFile) throws(FileHashingError) -> HashedContent {
        let size = file.size
        guard size > 0 else { return HashedContent(version: .v2, length: 0, segments: []) }
        // Regions are chunked independently, each as if a segment began at its start; the seams
        // are then re-chunked from the true boundary before them until they meet a boundary the
        // region found too, after which both agree. One thread means one region and no seams.
        let regionSize = threads == 1 ? size : UInt64(Self.regionSize)
        let regionCount = Int((size + regionSize - 1) / regionSize)
        let regions = UnsafeMutableBufferPointer<ChunkedRegion>.allocate(capacity: regionCount)
        regions.initialize(repeating: ChunkedRegion(start: 0, segments: []))
        defer {
            regions.deinitialize()
            regions.deallocate()
        }
        nonisolated(unsafe) let results = regions
        try WorkerPool.run(tasks: regionCount, workers: threads) { (region, _) throws(FileHashingError) in
            let start = UInt64(region) * regionSize
            let segments = try Self.chunkAndHash(file, from: start, to: min(size, start + regionSize), stoppingAt: [:]).segments
            results[region] = ChunkedRegion(start: start, segments: segments)
        }

        // Where each region's segments become trustworthy: its start, and the end of each segment.
        var resumePoints: [UInt64: (region: Int, segment: Int)] = [:]
        for (index, region) in regions.enumerated() where index > 0 {
            resumePoints[region.start] = (index, 0)
            for (segment, found) in region.segments.enumerated().dropLast() {
                resumePoints[found.offset + UInt64(found.length)] = (index, segment + 1)
            }
        }

        var segments: [HashedContent.Segment] = []
        var region = 0
        var next = 0
        while true {
            // A region's last segment ends only where the region ends, unless it is the file's last.
            let found = regions[region].segments
            let isLast = region == regionCount - 1
            segments += found[next..<(isLast ? found.count : found.count - 1)]
            if isLast { break }
            let position = segments.last.map { $0.offset + UInt64($0.length) } ?? 0
            if let resume = resumePoints[position], resume.region > region {
                (region, next) = resume
                continue
            }
            let seam = try Self.chunkAndHash(file, from: position, to: size, stoppingAt: resumePoints)
            segments += seam.segments
            guard let resume = seam.resumedAt else { break }
            (region, next) = resume
        }
        return HashedContent(version: .v2, length: size, segments: segments)
    }

    static let regionSize = 32 * 1024 * 1024
    static let chunkReadSize = 512 * 1024

    /// Chunks `[start, end)` as if a segment began at `start`, hashing each segment's bytes while
    /// they are still in cache. Stops early at the first boundary found in `resumePoints`.
    private static func chunkAndHash(
        _ file: ContentFile, from start: UInt64, to end: UInt64, stoppingAt resumePoints: [UInt64: (region: Int, segment: Int)]
    ) throws(FileHashingError) -> (segments: [HashedContent.Segment], resumedAt: (region: Int, segment: Int)?) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkReadSize, alignment: 64)
        defer { buffer.deallocate() }
        let sha512 = SHA512Context()
        sha512.begin()
        var chunker = GearChunker()
        var segments: [HashedContent.Segment] = []
        var segmentStart = start
        var position = start
        while position < end {
            let count = Int(min(UInt64(chunkReadSize), end - position))
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
            try file.read(into: bytes, at: position)
            var offset = 0
            while offset < count {
                let (consumed, isBoundary) = chunker.scan(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                sha512.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + consumed]))
                offset += consumed
                guard isBoundary else { continue }
                let boundary = position + UInt64(offset)
                segments.append(HashedContent.Segment(
                    offset: segmentStart, length: UInt32(boundary - segmentStart), hashOfData: sha512.finish(truncatedTo: 32), blockHashes: []))
                sha512.begin()
                segmentStart = boundary
                if let resume = resumePoints[boundary] { return (segments, resume) }
            }
            position += UInt64(count)
        }
        if segmentStart < end {
            segments.append(HashedContent.Segment(
                offset: segmentStart, length: UInt32(end - segmentStart), hashOfData: sha512.finish(truncatedTo: 32), blockHashes: []))
        }
        return (segments, nil)
    }
}

/// The segments one worker found in a region, the first of which is provisional until a seam
/// re-chunk from the previous region confirms where they begin.
private struct ChunkedRegion {
    let start: UInt64
    let segments: [HashedContent.Segment]
}
