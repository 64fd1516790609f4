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
        guard let opening = sealed.opening else { throw WireError("block \(index) did not arrive on a channel, so it cannot be opened") }
        guard sealed.payload.readableBytes >= RecordCipher.tagSize else { throw WireError("sealed block \(index) is shorter than its tag") }
        guard key.count == AESGCMKey.keySize else { throw WireError("block \(index): a block key has 32 bytes, not \(key.count)") }
        let length = sealed.payload.readableBytes - RecordCipher.tagSize
        let isCompressed = sealed.flags.contains(.compressed)
        guard isCompressed || length == expectedLength else { throw WireError("block \(index) has \(length) bytes, expected \(expectedLength)") }
        let cipher = opening.secret.key(for: key)
        let associatedData = associatedData(segmentID, index, sealed.flags)
        var opened = false
        // Uninitialised: the cipher writes every byte (or zeroes them all when it refuses).
        let plaintext = [UInt8](unsafeUninitializedCapacity: length) { output, initialized in
            opened = sealed.payload.withUnsafeReadableBytes { payload in
                associatedData.withUnsafeBytes {
                    cipher.open(payload, into: UnsafeMutableRawBufferPointer(output), sequence: opening.sequence, associatedData: $0)
                }
            }
            initialized = length
        }
        guard opened else { throw WireError("block \(index) of segment \(segmentID.hex.prefix(16))… cannot be opened with this content's key") }
        return isCompressed ? try decompress(plaintext, expectedLength: expectedLength, index: index) : plaintext
    }

    /// `segment ID ‖ index ‖ flags`: what a block's seal binds it to besides its record.
    private static func associatedData(_ segmentID: HashValue, _ index: UInt32, _ flags: SealedBlock.Flags) -> [UInt8] {
        segmentID.bytes + withUnsafeBytes(of: index.bigEndian) { Array($0) } + [flags.rawValue]
    }

    private static func decompress(_ frame: [UInt8], expectedLength: Int, index: UInt32) throws(WireError) -> [UInt8] {
        guard let block = frame.withUnsafeBytes({ BlockCompressor.decompress($0, exactLength: expectedLength) }) else {
            throw WireError("block \(index) does not decompress to its \(expectedLength) bytes")
        }
        return block
    }
}
