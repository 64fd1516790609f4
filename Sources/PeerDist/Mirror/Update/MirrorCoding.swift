import PeerDistHashing

/// Builds the little-endian binary files a mirror keeps for itself (the scan cache and the
/// journal): fixed-width integers, and strings and byte runs prefixed with their length.
struct MirrorWriter {
    private(set) var bytes: [UInt8] = []

    mutating func append(_ value: UInt8) { bytes.append(value) }
    mutating func append(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func append(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func append(_ value: Int64) { append(UInt64(bitPattern: value)) }
    mutating func append(raw: some Sequence<UInt8>) { bytes += raw }

    mutating func append(_ string: String) {
        append(UInt32(string.utf8.count))
        bytes += string.utf8
    }

    mutating func append(_ time: FileTime) {
        append(time.seconds)
        append(time.nanoseconds)
    }

    mutating func append(_ stamp: PathStamp) {
        append(stamp.kind.rawValue)
        append(stamp.size)
        append(stamp.modified)
        append(stamp.changed)
        append(stamp.inode)
    }

    mutating func append(_ chunk: ChunkReference) {
        append(raw: chunk.hash.bytes)
        append(chunk.length)
    }
}

/// Reads what `MirrorWriter` wrote; anything short or out of range is a `.corrupt` error naming
/// the file (`source`).
struct MirrorReader {
    private let bytes: [UInt8]
    private var position: Int
    let source: String

    init(_ bytes: [UInt8], source: String, from position: Int = 0) {
        self.bytes = bytes
        self.source = source
        self.position = position
    }

    var isAtEnd: Bool { position == bytes.count }

    func corrupt(_ what: String) -> MirrorError {
        MirrorError(.corrupt, "\(source): \(what) at byte \(position)")
    }

    mutating func raw(_ count: Int) throws(MirrorError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - position >= count else { throw corrupt("truncated") }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func uint8() throws(MirrorError) -> UInt8 { try raw(1).first ?? 0 }

    mutating func uint32() throws(MirrorError) -> UInt32 {
        try raw(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64() throws(MirrorError) -> UInt64 {
        try raw(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func int64() throws(MirrorError) -> Int64 { Int64(bitPattern: try uint64()) }

    /// A count of items that each take at least `minimumSize` bytes, checked against what is
    /// left so a damaged count cannot make the reader reserve gigabytes.
    mutating func count(ofItemsAtLeast minimumSize: Int) throws(MirrorError) -> Int {
        let count = Int(try uint32())
        guard count <= (bytes.count - position) / max(1, minimumSize) else { throw corrupt("count \(count) too large") }
        return count
    }

    mutating func string() throws(MirrorError) -> String {
        let length = Int(try uint32())
        guard let string = String(validating: try raw(length), as: UTF8.self) else { throw corrupt("text not UTF-8") }
        return string
    }

    mutating func time() throws(MirrorError) -> FileTime {
        let seconds = try int64()
        let nanoseconds = try uint32()
        guard nanoseconds < 1_000_000_000 else { throw corrupt("nanoseconds out of range") }
        return FileTime(seconds: seconds, nanoseconds: nanoseconds)
    }

    mutating func stamp() throws(MirrorError) -> PathStamp {
        guard let kind = PathStamp.Kind(rawValue: try uint8()) else { throw corrupt("unknown path kind") }
        return PathStamp(kind: kind, size: try uint64(), modified: try time(), changed: try time(), inode: try uint64())
    }

    mutating func chunk() throws(MirrorError) -> ChunkReference {
        let hash = HashValue(try raw(32))
        return ChunkReference(hash: hash, length: try uint32())
    }
}
