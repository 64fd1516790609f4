import CZstd

/// Compresses the blocks one connection sends with zstd, and stops trying on content that does
/// not compress: after a run of blocks that would not shrink enough it tries only one block in
/// `probeInterval`, until one shrinks again. Random or already-compressed content (the common
/// case for large files) then costs almost nothing, and compressible parts are found within a
/// few MiB.
///
/// Keeps one zstd context, reused across blocks: setting one up costs more than compressing an
/// incompressible 64 KiB block. Not thread-safe; one per sender.
public final class BlockCompressor {
    /// Incompressible blocks in a row after which blocks are only probed.
    static let missesBeforeProbing = 8
    static let probeInterval = 64

    private let context: OpaquePointer?
    private var misses = 0

    public init() {
        context = ZSTD_createCCtx()
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// The zstd frame of `block` when it is at least `saving` (a fraction) smaller, else nil;
    /// after a run of misses, only one block in `probeInterval` is tried.
    package func compress(_ block: UnsafeRawBufferPointer, savingAtLeast saving: Double) -> [UInt8]? {
        misses += 1
        if misses > Self.missesBeforeProbing, misses % Self.probeInterval != 0 { return nil }
        guard let frame = attempt(block, savingAtLeast: saving) else { return nil }
        misses = 0
        return frame
    }

    /// The zstd frame of `block` when it is at least `saving` (a fraction) smaller, else nil,
    /// tried whatever came before.
    package func attempt(_ block: UnsafeRawBufferPointer, savingAtLeast saving: Double) -> [UInt8]? {
        guard let context, let source = block.baseAddress, !block.isEmpty else { return nil }
        // An output buffer no larger than the goal: zstd fails with "destination too small" on
        // any frame that would not save enough.
        let capacity = Int(Double(block.count) * (1 - saving))
        guard capacity > 0 else { return nil }
        var written = 0
        let frame = [UInt8](unsafeUninitializedCapacity: capacity) { output, initialized in
            written = ZSTD_compressCCtx(context, output.baseAddress, capacity, source, block.count, BlockSealer.compressionLevel)
            initialized = ZSTD_isError(written) == 0 ? written : 0
        }
        guard ZSTD_isError(written) == 0 else { return nil }
        return frame
    }
}

extension BlockCompressor {
    /// The bytes of a zstd `frame` that must decompress to exactly `length` bytes, or `nil`.
    /// The output is allocated at `length`, so a frame from a peer cannot make us allocate more.
    package static func decompress(_ frame: UnsafeRawBufferPointer, exactLength length: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: length)
        return output.withUnsafeMutableBytes { decompress(frame, into: $0) } ? output : nil
    }

    /// Decompresses a zstd `frame` into `output`, which it must fill exactly; false otherwise.
    package static func decompress(_ frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        let written = ZSTD_decompress(output.baseAddress, output.count, frame.baseAddress, frame.count)
        return ZSTD_isError(written) == 0 && written == output.count
    }

    /// The bytes of a zstd `frame` of unknown length, when it decompresses to at most `limit`
    /// bytes; `nil` otherwise. The output is allocated at `limit`, whatever the frame claims.
    static func decompress(_ frame: UnsafeRawBufferPointer, atMost limit: Int) -> [UInt8]? {
        guard limit > 0 else { return nil }
        var written = 0
        let output = [UInt8](unsafeUninitializedCapacity: limit) { buffer, initialized in
            written = ZSTD_decompress(buffer.baseAddress, limit, frame.baseAddress, frame.count)
            initialized = ZSTD_isError(written) == 0 ? written : 0
        }
        guard ZSTD_isError(written) == 0 else { return nil }
        return output
    }
}
