import CZstd
import Crypto
import Foundation
import PeerDistHashing

/// Seals blocks for PeerDist's wire and opens them again: zstd when it saves at least 10 %,
/// then AES-256-GCM under the segment's block key, with the segment ID and block index as
/// associated data so a sealed block cannot be passed off as another.
///
/// Only holders of the segment secret (that is, of the content ID or the server secret) can open
/// a block; a node that asks by segment ID alone gets bytes it cannot read.
public enum BlockSealer {
    /// Compression must save at least this fraction to be used.
    static let minimumSaving = 0.10
    static let compressionLevel: Int32 = 1

    public static func seal(_ block: UnsafeRawBufferPointer, key: HashValue, segmentID: HashValue, index: UInt32) -> SealedBlock {
        var flags: SealedBlock.Flags = []
        var plaintext = Data(block)
        if let compressed = compress(block), Double(compressed.count) <= Double(block.count) * (1 - minimumSaving) {
            flags.insert(.compressed)
            plaintext = compressed
        }
        let nonce = AES.GCM.Nonce()
        do {
            let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: key.bytes), nonce: nonce, authenticating: associatedData(segmentID, index))
            return SealedBlock(flags: flags, nonce: Array(nonce), payload: Array(box.ciphertext) + Array(box.tag))
        } catch {
            // AES-GCM sealing fails only for invalid key or nonce sizes, which are fixed here.
            preconditionFailure("AES-GCM rejected a 32-byte key: \(error)")
        }
    }

    /// The block's bytes, or an error when it was not sealed with this key for this segment and
    /// index, or does not decompress to exactly `expectedLength` bytes.
    public static func open(_ sealed: SealedBlock, key: HashValue, segmentID: HashValue, index: UInt32, expectedLength: Int) throws(WireError) -> [UInt8] {
        guard sealed.nonce.count == 12, sealed.payload.count >= 16 else { throw WireError("sealed block \(index) is malformed") }
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: sealed.nonce), ciphertext: sealed.payload.dropLast(16), tag: sealed.payload.suffix(16))
            plaintext = try AES.GCM.open(box, using: SymmetricKey(data: key.bytes), authenticating: associatedData(segmentID, index))
        } catch {
            throw WireError("block \(index) of segment \(segmentID.hex.prefix(16))… cannot be opened with this content's key")
        }
        guard sealed.flags.contains(.compressed) else {
            guard plaintext.count == expectedLength else { throw WireError("block \(index) has \(plaintext.count) bytes, expected \(expectedLength)") }
            return Array(plaintext)
        }
        return try decompress(plaintext, expectedLength: expectedLength, index: index)
    }

    private static func associatedData(_ segmentID: HashValue, _ index: UInt32) -> [UInt8] {
        segmentID.bytes + withUnsafeBytes(of: index.bigEndian) { Array($0) }
    }

    private static func compress(_ block: UnsafeRawBufferPointer) -> Data? {
        guard let source = block.baseAddress, !block.isEmpty else { return nil }
        var output = Data(count: ZSTD_compressBound(block.count))
        let written = output.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress, $0.count, source, block.count, compressionLevel) }
        guard ZSTD_isError(written) == 0 else { return nil }
        output.count = written
        return output
    }

    private static func decompress(_ frame: Data, expectedLength: Int, index: UInt32) throws(WireError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: expectedLength)
        // The output buffer is exactly the block's length, so a frame cannot make us allocate more.
        let written = frame.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { ZSTD_decompress($0.baseAddress, $0.count, source.baseAddress, source.count) }
        }
        guard ZSTD_isError(written) == 0, written == expectedLength else {
            throw WireError("block \(index) does not decompress to its \(expectedLength) bytes")
        }
        return output
    }
}
