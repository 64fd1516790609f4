import PeerDistHashing
import PeerDistWire

#if canImport(Glibc)
import Glibc
#endif

/// One whole file cut into mirror chunks (`GearChunker`, each named by its SHA-256), in order: what
/// a node keeps for a file it holds as content, so that snapshot and mirror fetches can copy the
/// file's chunks (`LocalChunkIndex.add(file:chunks:)`) instead of fetching them.
///
/// Bytes always cut the same way, so a list made once for a content ID stays right for as long as
/// a file holds that content; a list made from a file that changed meanwhile is only useless,
/// never harmful, since `LocalChunkIndex` checks every chunk it reads against its SHA-256.
///
/// Encoding (little-endian): the magic `PDCL`, a format byte (1), the file's length (u64), a
/// chunk count (u32) and each chunk (32-byte SHA-256, length u32). The lengths must add up to the
/// file's, and each is at most `GearChunker.maximumSize`.
public struct FileChunkList: Sendable, Equatable {
    public var length: UInt64
    public var chunks: [ChunkReference]

    public init(length: UInt64, chunks: [ChunkReference]) {
        self.length = length
        self.chunks = chunks
    }

    /// Cuts the regular file at the absolute `path`, opened without following links below `/`.
    /// Throws `.corrupt` if the file changed while it was read (its stamp, change time
    /// included, moved), `.notFound` if there is no regular file there.
    public static func cut(path: String) throws(MirrorError) -> FileChunkList {
        let relative = String(path.drop { $0 == "/" })
        guard path.hasPrefix("/"), let file = try DirectoryHandle.open(root: "/").openFile(relativePath: relative, flags: O_RDONLY | O_NONBLOCK) else {
            throw MirrorError(.notFound, "\(path): no regular file there")
        }
        let before = try file.status()
        guard before.kind == .file else { throw MirrorError(.notFound, "\(path): not a regular file") }
        let hasher = FileChunkHasher()
        let (chunks, length) = try hasher.chunks(of: file)
        guard try file.status().stamp == before.stamp, length == before.size else {
            throw MirrorError(.corrupt, "\(path): the file changed while it was being cut into chunks")
        }
        return FileChunkList(length: length, chunks: chunks)
    }

    private static let magic = Array("PDCL".utf8)
    private static let format: UInt8 = 1

    public func encoded() -> [UInt8] {
        var writer = FieldWriter.mirrorFile()
        writer.append(raw: Self.magic)
        writer.append(Self.format)
        writer.append(length)
        writer.append(UInt32(chunks.count))
        for chunk in chunks { writer.append(chunk) }
        return writer.bytes
    }

    /// Reads what `encoded()` wrote; anything else is a `.corrupt` error naming `source`.
    public init(decoding bytes: [UInt8], source: String = "chunk list") throws(MirrorError) {
        var reader = FieldReader.mirrorFile(bytes, source: source)
        guard Array(try reader.raw(Self.magic.count)) == Self.magic else { throw reader.corrupt("not a PeerDist chunk list") }
        guard try reader.uint8() == Self.format else { throw reader.corrupt("unknown format") }
        let length = try reader.uint64()
        let count = try reader.count(ofItemsAtLeast: 36)
        var chunks: [ChunkReference] = []
        chunks.reserveCapacity(count)
        var total: UInt64 = 0
        for _ in 0..<count {
            let chunk = try reader.chunk()
            guard chunk.length > 0, chunk.length <= UInt32(GearChunker.maximumSize) else {
                throw reader.corrupt("chunk \(chunks.count) of \(chunk.length) bytes")
            }
            total += UInt64(chunk.length)
            chunks.append(chunk)
        }
        guard total == length else { throw reader.corrupt("chunks of \(total) bytes for a file of \(length)") }
        guard reader.isAtEnd else { throw reader.corrupt("trailing bytes") }
        self.length = length
        self.chunks = chunks
    }
}
