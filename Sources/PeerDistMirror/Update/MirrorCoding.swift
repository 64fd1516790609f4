import PeerDistHashing
import PeerDistWire

/// The little-endian files a mirror keeps for itself (the scan cache and the journal) are written
/// with the shared field writer: fixed-width integers, and strings and byte runs prefixed with
/// their length.
extension FieldWriter {
    package static func mirrorFile() -> FieldWriter {
        FieldWriter(endianness: .little)
    }

    package mutating func append(raw: some Sequence<UInt8>) { append(contentsOf: raw) }

    package mutating func append(_ string: String) {
        append(UInt32(string.utf8.count))
        append(contentsOf: string.utf8)
    }

    package mutating func append(_ time: FileTime) {
        append(time.seconds)
        append(time.nanoseconds)
    }

    package mutating func append(_ stamp: PathStamp) {
        append(stamp.kind.rawValue)
        append(stamp.size)
        append(stamp.modified)
        append(stamp.changed)
        append(stamp.inode)
    }

    package mutating func append(_ chunk: ChunkReference) {
        append(raw: chunk.hash.bytes)
        append(chunk.length)
    }
}

/// Reads what `FieldWriter.mirrorFile()` wrote, with the shared field reader in little-endian order;
/// anything short or out of range is a `.corrupt` error naming the file.
extension FieldReader where Failure == MirrorError {
    package static func mirrorFile(_ bytes: some Collection<UInt8>, source: String) -> Self {
        Self(bytes, subject: source, endianness: .little, failure: { MirrorError(.corrupt, $0) })
    }

    package func corrupt(_ what: String) -> MirrorError { failure(what) }

    package mutating func raw(_ count: Int) throws(MirrorError) -> [UInt8] { try bytes(count, "bytes") }
    package mutating func uint8() throws(MirrorError) -> UInt8 { try integer(UInt8.self, "byte") }
    package mutating func uint32() throws(MirrorError) -> UInt32 { try integer(UInt32.self, "32-bit integer") }
    package mutating func uint64() throws(MirrorError) -> UInt64 { try integer(UInt64.self, "64-bit integer") }
    package mutating func int64() throws(MirrorError) -> Int64 { try integer(Int64.self, "64-bit integer") }

    /// A count of items that each take at least `minimumSize` bytes (see `count(_:ofItemsAtLeast:_:)`).
    package mutating func count(ofItemsAtLeast minimumSize: Int) throws(MirrorError) -> Int {
        try count(UInt32.self, ofItemsAtLeast: minimumSize, "count")
    }

    package mutating func string() throws(MirrorError) -> String {
        let length = Int(try uint32())
        guard let string = String(validating: try raw(length), as: UTF8.self) else { throw corrupt("text not UTF-8") }
        return string
    }

    package mutating func time() throws(MirrorError) -> FileTime {
        let seconds = try int64()
        let nanoseconds = try uint32()
        guard nanoseconds < 1_000_000_000 else { throw corrupt("nanoseconds out of range") }
        return FileTime(seconds: seconds, nanoseconds: nanoseconds)
    }

    package mutating func stamp() throws(MirrorError) -> PathStamp {
        guard let kind = PathStamp.Kind(rawValue: try uint8()) else { throw corrupt("unknown path kind") }
        return PathStamp(kind: kind, size: try uint64(), modified: try time(), changed: try time(), inode: try uint64())
    }

    package mutating func chunk() throws(MirrorError) -> ChunkReference {
        let hash = HashValue(try raw(32))
        return ChunkReference(hash: hash, length: try uint32())
    }
}
