import PeerDistHashing
import PeerDistWire

/// What a publisher's previous scan learnt about each file: its stamp and its chunks. The next
/// scan reuses the chunks of every file whose stamp is unchanged instead of reading it again.
///
/// Keep it between runs with `encoded()` and `init(decoding:)`. The encoding (little-endian):
/// the magic `PDSC`, a format byte (1), a record count (u32), then per file, in path order: the
/// path (u32 length + UTF-8), the stamp (kind u8, size u64, mtime and ctime as seconds i64 +
/// nanoseconds u32, inode u64), a chunk count (u32) and each chunk (32-byte SHA-256, length u32).
public struct ScanCache: Sendable, Equatable {
    package struct Record: Sendable, Equatable {
        package var stamp: PathStamp
        package var chunks: [ChunkReference]

        package init(stamp: PathStamp, chunks: [ChunkReference]) {
            self.stamp = stamp
            self.chunks = chunks
        }
    }

    package var records: [String: Record]

    public init() {
        records = [:]
    }

    /// Files remembered.
    public var count: Int { records.count }

    /// Each remembered file's stamp: the files whose chunks are known while they keep it.
    public var stamps: [String: PathStamp] { records.mapValues(\.stamp) }

    private static let magic = Array("PDSC".utf8)
    private static let format: UInt8 = 1

    public func encoded() -> [UInt8] {
        var writer = FieldWriter.mirrorFile()
        writer.append(raw: Self.magic)
        writer.append(Self.format)
        writer.append(UInt32(records.count))
        for path in records.keys.sorted(byPathBytes: { $0 }) {
            guard let record = records[path] else { continue }
            writer.append(path)
            writer.append(record.stamp)
            writer.append(UInt32(record.chunks.count))
            for chunk in record.chunks { writer.append(chunk) }
        }
        return writer.bytes
    }

    /// Reads what `encoded()` wrote; anything else is a `.corrupt` error.
    public init(decoding bytes: [UInt8]) throws(MirrorError) {
        var reader = FieldReader.mirrorFile(bytes, source: "scan cache")
        guard Array(try reader.raw(Self.magic.count)) == Self.magic else { throw reader.corrupt("not a PeerDist scan cache") }
        guard try reader.uint8() == Self.format else { throw reader.corrupt("unknown format") }
        // A record takes at least 4 (path length) + 41 (stamp) + 4 (chunk count) bytes.
        let count = try reader.count(ofItemsAtLeast: 49)
        var records: [String: Record] = [:]
        records.reserveCapacity(count)
        for _ in 0..<count {
            let path = try reader.string()
            let stamp = try reader.stamp()
            let chunkCount = try reader.count(ofItemsAtLeast: 36)
            var chunks: [ChunkReference] = []
            chunks.reserveCapacity(chunkCount)
            for _ in 0..<chunkCount { chunks.append(try reader.chunk()) }
            records[path] = Record(stamp: stamp, chunks: chunks)
        }
        guard reader.isAtEnd else { throw reader.corrupt("trailing bytes") }
        self.records = records
    }
}
