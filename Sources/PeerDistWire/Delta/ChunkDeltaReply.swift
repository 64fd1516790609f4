import NIOCore
import PeerDistHashing

/// How the chunk a `.getChunkDelta` asks for travels in its `.chunk` reply when it goes as a
/// delta: flag `delta`, the encoded `ChunkDelta`, zstd-compressed on top (flag `compressed`)
/// when that saves at least 10 %. A delta is only sent when it is smaller than the chunk, so a
/// receiver never takes one of the chunk's length or more, compressed or not; otherwise the
/// server sends the chunk as for a `.getChunks`.
package enum ChunkDeltaReply {
    /// The flags and payload of `chunk` as a delta against `base`, or `nil` when the delta would
    /// not be smaller than the chunk.
    package static func encode(_ chunk: [UInt8], against base: ChunkSignature, compressor: BlockCompressor) -> (flags: SealedBlock.Flags, payload: [UInt8])? {
        let delta = ChunkDelta.make(target: chunk, against: base)
        guard delta.encodedCount < chunk.count else { return nil }
        let encoded = delta.encoded()
        if let compressed = encoded.withUnsafeBytes({ compressor.compress($0, savingAtLeast: BlockSealer.minimumSaving) }) {
            return ([.delta, .compressed], compressed)
        }
        return (.delta, encoded)
    }

    /// The chunk a delta payload builds from `base`, the bytes whose signature (in blocks of
    /// `blockSize`) went with the request: exactly `chunk.length` bytes, not yet checked against
    /// the chunk's hash. Throws on a payload that does not decompress, decode or apply.
    package static func decode(_ payload: ByteBuffer, compressed: Bool, base: [UInt8], blockSize: Int, as chunk: ChunkReference) throws(WireError) -> [UInt8] {
        let limit = Int(chunk.length) - 1
        let encoded: [UInt8]
        if compressed {
            guard let bytes = payload.withUnsafeReadableBytes({ BlockCompressor.decompress($0, atMost: limit) }) else {
                throw WireError("a compressed delta does not decompress to fewer bytes than its chunk's \(chunk.length)")
            }
            encoded = bytes
        } else {
            guard payload.readableBytes <= limit else {
                throw WireError("a delta of \(payload.readableBytes) bytes arrived for a chunk of \(chunk.length)")
            }
            encoded = Array(payload.readableBytesView)
        }
        return try ChunkDelta(decoding: encoded).apply(base: base, blockSize: blockSize, expectedLength: Int(chunk.length))
    }
}
