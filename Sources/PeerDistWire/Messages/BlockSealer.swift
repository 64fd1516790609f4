import Crypto
import NIOCore
import PeerDistHashing

/// Seals blocks for PeerDist's wire and opens them again: zstd when it saves at least 10 %,
/// then AES-256-GCM under the segment's block key, with the segment ID and block index as
/// associated data so a sealed block cannot be passed off as another.
///
/// Only holders of the segment secret (that is, of the content ID or the server secret) can open
/// a block; a node that asks by segment ID alone gets bytes it cannot read.
///
/// The cipher reads each block where it lies and writes where the result is kept (the payload
/// buffer when sealing, the returned array when opening), so no block is copied on the way.
public enum BlockSealer {
    /// Compression must save at least this fraction to be used.
    package static let minimumSaving = 0.10
    static let compressionLevel: Int32 = 1

    public static func seal(
        _ block: UnsafeRawBufferPointer, key: HashValue, segmentID: HashValue, index: UInt32, compressor: BlockCompressor = BlockCompressor()
    ) -> SealedBlock {
        let nonce = Array(AES.GCM.Nonce())
        let cipher = key.withUnsafeBytes { AESGCMKey($0) }
        let associatedData = associatedData(segmentID, index)
        func sealed(_ plaintext: UnsafeRawBufferPointer) -> ByteBuffer {
            var payload = ByteBuffer()
            payload.reserveCapacity(plaintext.count + AESGCMKey.tagSize)
            _ = payload.writeWithUnsafeMutableBytes(minimumWritableBytes: plaintext.count + AESGCMKey.tagSize) { output in
                nonce.withUnsafeBytes { nonce in
                    associatedData.withUnsafeBytes { cipher.seal(plaintext, into: output, nonce: nonce, associatedData: $0) }
                }
                return plaintext.count + AESGCMKey.tagSize
            }
            return payload
        }
        if let compressed = compressor.compress(block, savingAtLeast: minimumSaving) {
            return SealedBlock(flags: .compressed, nonce: nonce, payload: compressed.withUnsafeBytes { sealed($0) })
        }
        return SealedBlock(flags: [], nonce: nonce, payload: sealed(block))
    }

    /// The block's bytes, or an error when it was not sealed with this key for this segment and
    /// index, or does not decompress to exactly `expectedLength` bytes.
    public static func open(_ sealed: SealedBlock, key: HashValue, segmentID: HashValue, index: UInt32, expectedLength: Int) throws(WireError) -> [UInt8] {
        guard sealed.nonce.count == AESGCMKey.nonceSize, sealed.payload.readableBytes >= AESGCMKey.tagSize else {
            throw WireError("sealed block \(index) is malformed")
        }
        guard key.count == AESGCMKey.keySize else { throw WireError("block \(index): a block key has 32 bytes, not \(key.count)") }
        let length = sealed.payload.readableBytes - AESGCMKey.tagSize
        let isCompressed = sealed.flags.contains(.compressed)
        guard isCompressed || length == expectedLength else { throw WireError("block \(index) has \(length) bytes, expected \(expectedLength)") }
        let cipher = key.withUnsafeBytes { AESGCMKey($0) }
        let associatedData = associatedData(segmentID, index)
        var opened = false
        // Uninitialised: the cipher writes every byte (or zeroes them all when it refuses).
        let plaintext = [UInt8](unsafeUninitializedCapacity: length) { output, initialized in
            opened = sealed.payload.withUnsafeReadableBytes { payload in
                sealed.nonce.withUnsafeBytes { nonce in
                    associatedData.withUnsafeBytes {
                        cipher.open(
                            UnsafeRawBufferPointer(rebasing: payload[..<length]), tag: UnsafeRawBufferPointer(rebasing: payload[length...]),
                            into: UnsafeMutableRawBufferPointer(output), nonce: nonce, associatedData: $0)
                    }
                }
            }
            initialized = length
        }
        guard opened else { throw WireError("block \(index) of segment \(segmentID.hex.prefix(16))… cannot be opened with this content's key") }
        return isCompressed ? try decompress(plaintext, expectedLength: expectedLength, index: index) : plaintext
    }

    private static func associatedData(_ segmentID: HashValue, _ index: UInt32) -> [UInt8] {
        segmentID.bytes + withUnsafeBytes(of: index.bigEndian) { Array($0) }
    }

    private static func decompress(_ frame: [UInt8], expectedLength: Int, index: UInt32) throws(WireError) -> [UInt8] {
        guard let block = frame.withUnsafeBytes({ BlockCompressor.decompress($0, exactLength: expectedLength) }) else {
            throw WireError("block \(index) does not decompress to its \(expectedLength) bytes")
        }
        return block
    }
}
