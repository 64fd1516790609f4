import Crypto
import PeerDistHashing

/// Cuts an open file into `GearChunker` chunks and names each by the SHA-256 of its bytes, in
/// one pass through a fixed buffer: memory stays at the buffer's size whatever the file's.
struct FileChunkHasher: ~Copyable {
    static let bufferSize = 1 << 20
    private let buffer: UnsafeMutableRawBufferPointer

    init() {
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 64)
    }

    deinit {
        buffer.deallocate()
    }

    /// The chunks of `file` from its start to its end, and how many bytes that was.
    func chunks(of file: OpenFile) throws(MirrorError) -> (chunks: [ChunkReference], length: UInt64) {
        var chunker = GearChunker()
        var sha = SHA256()
        var chunkLength = 0
        var chunks: [ChunkReference] = []
        var position: UInt64 = 0
        while true {
            let count = try file.read(into: buffer, at: position)
            if count == 0 { break }
            var offset = 0
            while offset < count {
                let rest = UnsafeRawBufferPointer(rebasing: buffer[offset..<count])
                let (consumed, isBoundary) = chunker.scan(rest)
                sha.update(bufferPointer: UnsafeRawBufferPointer(rebasing: rest.prefix(consumed)))
                chunkLength += consumed
                offset += consumed
                if isBoundary {
                    chunks.append(ChunkReference(hash: HashValue(sha.finalize()), length: UInt32(chunkLength)))
                    sha = SHA256()
                    chunkLength = 0
                }
            }
            position += UInt64(count)
        }
        if chunkLength > 0 {
            chunks.append(ChunkReference(hash: HashValue(sha.finalize()), length: UInt32(chunkLength)))
        }
        return (chunks, position)
    }
}
