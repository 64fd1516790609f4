import Crypto
import NIOCore
import PeerDistHashing

/// Prepares blocks for PeerDist's wire and opens them again: zstd when the content compresses
/// (see `BlockCompressor`), then one AEAD pass, made by the channel as it writes the record,
/// under a key derived from the channel's block secret and the segment's block key, with the
/// segment ID, block index and flags as associated data (see `RecordSealer`).
///
/// Only holders of the segment secret (that is, of the content ID or the server secret) can open
/// a block; a node that asks by segment ID alone gets bytes it cannot read, and a block opens
/// only in the record, connection and position it was sealed for.
public enum BlockSealer {
    /// Compression must save at least this fraction to be used.
    package static let minimumSaving = 0.10
    static let compressionLevel: Int32 = 1

    /// The block as it is to travel, with the key the channel seals it under; `compress` gives
    /// its zstd frame when that is worth sending (by default, when it saves `minimumSaving`).
    package static func prepare(
        _ block: UnsafeRawBufferPointer, key: HashValue, segmentID: HashValue, index: UInt32,
        compress: (UnsafeRawBufferPointer) -> [UInt8]? = { BlockCompressor().attempt($0, savingAtLeast: minimumSaving) }
    ) -> SealedBlock {
        let payload: ByteBuffer
        let flags: SealedBlock.Flags
        if let compressed = compress(block) {
            (payload, flags) = (ByteBuffer(bytes: compressed), .compressed)
        } else {
            (payload, flags) = (ByteBuffer(bytes: block), [])
        }
        let sealing = BlockSealing(blockKey: key, associatedData: associatedData(segmentID, index, flags))
        return SealedBlock(flags: flags, payload: payload, sealing: sealing)
    }

    /// `prepare` for a block already in a buffer, which travels as it is when not compressed.
    package static func prepare(
        _ block: ByteBuffer, key: HashValue, segmentID: HashValue, index: UInt32,
        compress: (UnsafeRawBufferPointer) -> [UInt8]? = { BlockCompressor().attempt($0, savingAtLeast: minimumSaving) }
    ) -> SealedBlock {
        let compressed = block.withUnsafeReadableBytes { compress($0) }
        let (payload, flags): (ByteBuffer, SealedBlock.Flags) = compressed.map { (ByteBuffer(bytes: $0), .compressed) } ?? (block, [])
        let sealing = BlockSealing(blockKey: key, associatedData: associatedData(segmentID, index, flags))
        return SealedBlock(flags: flags, payload: payload, sealing: sealing)
    }

    /// The bytes of a received block, or an error when it was not sealed with this content's key
    /// for this segment and index in the record and on the channel it arrived in, or does not
    /// decompress to exactly `expectedLength` bytes.
    public static func open(_ sealed: SealedBlock, key: HashValue, segmentID: HashValue, index: UInt32, expectedLength: Int) throws(WireError) -> [UInt8] {
        var failure: WireError?
        // Uninitialised: `open(…into:)` writes every byte or throws.
        let block = [UInt8](unsafeUninitializedCapacity: expectedLength) { output, initialized in
            do throws(WireError) {
                try open(sealed, key: key, segmentID: segmentID, index: index, into: UnsafeMutableRawBufferPointer(output))
                initialized = expectedLength
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return block
    }

    /// `open`, into `output`, which is exactly the block's expected length: a fetcher opens each
    /// block into one buffer of its own, hashes and writes it from there, and allocates nothing
    /// per block. When it throws, what `output` holds means nothing.
    public static func open(
        _ sealed: SealedBlock, key: HashValue, segmentID: HashValue, index: UInt32, into output: UnsafeMutableRawBufferPointer
    ) throws(WireError) {
        guard let opening = sealed.opening else { throw WireError("block \(index) did not arrive on a channel, so it cannot be opened") }
        guard sealed.payload.readableBytes >= RecordCipher.tagSize else { throw WireError("sealed block \(index) is shorter than its tag") }
        guard key.count == AESGCMKey.keySize else { throw WireError("block \(index): a block key has 32 bytes, not \(key.count)") }
        let length = sealed.payload.readableBytes - RecordCipher.tagSize
        let isCompressed = sealed.flags.contains(.compressed)
        guard isCompressed || length == output.count else { throw WireError("block \(index) has \(length) bytes, expected \(output.count)") }
        let cipher = opening.secret.key(for: key)
        enum Outcome { case opened, refused, notItsLength }
        let outcome = withAssociatedData(segmentID, index, sealed.flags) { associatedData in
            sealed.payload.withUnsafeReadableBytes { payload -> Outcome in
                guard isCompressed else {
                    return cipher.open(payload, into: output, sequence: opening.sequence, associatedData: associatedData) ? .opened : .refused
                }
                // A zstd frame is opened beside the output, then decompressed into it.
                var frame = [UInt8](repeating: 0, count: length)
                guard frame.withUnsafeMutableBytes({ cipher.open(payload, into: $0, sequence: opening.sequence, associatedData: associatedData) }) else {
                    return .refused
                }
                return frame.withUnsafeBytes { BlockCompressor.decompress($0, into: output) } ? .opened : .notItsLength
            }
        }
        switch outcome {
        case .opened: return
        case .refused: throw WireError("block \(index) of segment \(segmentID.hex.prefix(16))… cannot be opened with this content's key")
        case .notItsLength: throw WireError("block \(index) does not decompress to its \(output.count) bytes")
        }
    }

    /// `segment ID ‖ index ‖ flags`: what a block's seal binds it to besides its record.
    private static func associatedData(_ segmentID: HashValue, _ index: UInt32, _ flags: SealedBlock.Flags) -> [UInt8] {
        withAssociatedData(segmentID, index, flags) { Array($0) }
    }

    /// `associatedData`, in a buffer on the stack: opening a block then allocates nothing.
    private static func withAssociatedData<Result>(
        _ segmentID: HashValue, _ index: UInt32, _ flags: SealedBlock.Flags, _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        let count = segmentID.count + 5
        return withUnsafeTemporaryAllocation(byteCount: count, alignment: 1) { buffer in
            segmentID.withUnsafeBytes { buffer.copyMemory(from: $0) }
            withUnsafeBytes(of: index.bigEndian) { UnsafeMutableRawBufferPointer(rebasing: buffer[segmentID.count..<count - 1]).copyMemory(from: $0) }
            buffer[count - 1] = flags.rawValue
            return body(UnsafeRawBufferPointer(buffer))
        }
    }
}
