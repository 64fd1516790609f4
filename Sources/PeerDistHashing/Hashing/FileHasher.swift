import Crypto
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Hashes a file on all cores with bounded memory, for files of any size.
///
/// Version 1 cuts the file into runs of 64 blocks that worker threads read (`pread`, 256 KiB at a
/// time, so each read lands in cache right before it is hashed) and hash independently; block
/// hashes land at their index, so the result never depends on timing. Version 2 boundaries depend
/// on the bytes before them, so one thread reads and chunks 8 MiB windows while the workers hash
/// the previous window's segments.
///
/// Memory stays under a few MiB per worker plus two 8 MiB windows, whatever the file's size.
public struct FileHasher: Sendable {
    public let version: ContentInformationVersion
    public let threads: Int

    static let readSize = 256 * 1024
    static let blocksPerTask = 64
    static let windowSize = 8 * 1024 * 1024

    /// - Parameter threads: worker threads; defaults to one per online processor.
    public init(version: ContentInformationVersion, threads: Int? = nil) {
        self.version = version
        self.threads = max(1, threads ?? Self.processorCount)
    }

    public static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    public func hash(path: String) throws(FileHashingError) -> HashedContent {
        let file = try ContentFile(path: path)
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
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 64)
            defer { buffer.deallocate() }
            let firstBlock = task * Self.blocksPerTask
            let endBlock = min(blockCount, firstBlock + Self.blocksPerTask)
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
        let capacity = Self.windowSize + GearChunker.maximumSize
        let buffers = (0..<2).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64) }
        defer { buffers.forEach { $0.deallocate() } }

        var segments: [HashedContent.Segment] = []
        var chunker = GearChunker()
        var current = 0
        var carry = 0  // bytes at the start of the current window that belong to an unfinished segment
        var windowOffset: UInt64 = 0  // content offset of the current window's first byte
        var inFlight: SegmentHashJob?

        while true {
            let window = buffers[current]
            let readOffset = windowOffset + UInt64(carry)
            let readCount = Int(min(UInt64(Self.windowSize), size - readOffset))
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: window[carry..<carry + readCount]), at: readOffset)
            let filled = carry + readCount
            let atEnd = readOffset + UInt64(readCount) == size

            var cuts: [Range<Int>] = []
            var segmentStart = 0
            var position = carry
            while position < filled {
                let (consumed, isBoundary) = chunker.scan(UnsafeRawBufferPointer(rebasing: window[position..<filled]))
                position += consumed
                if isBoundary {
                    cuts.append(segmentStart..<position)
                    segmentStart = position
                }
            }
            if atEnd, segmentStart < filled {
                cuts.append(segmentStart..<filled)
                segmentStart = filled
            }

            let job = SegmentHashJob(window: UnsafeRawBufferPointer(window), windowOffset: windowOffset, cuts: cuts)
            if let previous = inFlight {
                segments += previous.wait()
            }
            job.start(threads: threads)
            inFlight = job
            if atEnd { break }

            // The unfinished segment moves to the front of the other window, which is free now.
            carry = filled - segmentStart
            let next = buffers[1 - current]
            next.copyMemory(from: UnsafeRawBufferPointer(rebasing: window[segmentStart..<filled]))
            windowOffset += UInt64(segmentStart)
            current = 1 - current
        }
        if let last = inFlight {
            segments += last.wait()
        }
        return HashedContent(version: .v2, length: size, segments: segments)
    }
}

/// Hashes one window's segments on worker threads while the reader moves on.
private final class SegmentHashJob: @unchecked Sendable {
    // Safety: `window` and `cuts` are read-only while the job runs; each worker writes only the
    // `results` slots of the segments it claimed; `wait()` orders those writes before any read.
    private let window: UnsafeRawBufferPointer
    private let windowOffset: UInt64
    private let cuts: [Range<Int>]
    private var results: [HashValue]
    private let group = DispatchGroup()

    init(window: UnsafeRawBufferPointer, windowOffset: UInt64, cuts: [Range<Int>]) {
        self.window = window
        self.windowOffset = windowOffset
        self.cuts = cuts
        self.results = Array(repeating: HashValue([]), count: cuts.count)
    }

    func start(threads: Int) {
        guard !cuts.isEmpty else { return }
        if threads == 1 {
            run(threads: 1)
        } else {
            DispatchQueue.global().async(group: group) { self.run(threads: threads) }
        }
    }

    private func run(threads: Int) {
        results.withUnsafeMutableBufferPointer { results in
            nonisolated(unsafe) let results = results
            WorkerPool.run(tasks: cuts.count, workers: threads) { task, _ in
                let sha512 = SHA512Context()
                results[task] = sha512.truncatedDigest(UnsafeRawBufferPointer(rebasing: self.window[self.cuts[task]]))
            }
        }
    }

    func wait() -> [HashedContent.Segment] {
        group.wait()
        return zip(cuts, results).map { cut, hash in
            HashedContent.Segment(offset: windowOffset + UInt64(cut.lowerBound), length: UInt32(cut.count), hashOfData: hash, blockHashes: [])
        }
    }
}
