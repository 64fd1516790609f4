import PeerDistHashing
import PeerDistWire

/// One entry as a manifest page stores it, integers big-endian:
///
/// ```
/// pathLength(2) path kind(1) mode(4) seconds(8) nanoseconds(4)
///   file:     chunkCount(4) { length(4) hash(32) }…
///   symlink:  targetLength(2) target
/// ```
///
/// Decoding checks only what parsing needs (lengths against the bytes left, UTF-8, the kind);
/// whether the entry is safe to apply is `ManifestValidator`'s job, shared with the publisher.
extension MirrorEntry {
    enum KindCode: UInt8 {
        case file = 1
        case directory = 2
        case symlink = 3
    }

    /// The bytes `encode(into:)` appends.
    var encodedByteCount: Int {
        let fixed = ManifestFormat.entryFixedBytes + path.utf8.count
        switch kind {
        case .file(let chunks): return fixed + 4 + chunks.count * ManifestFormat.chunkBytes
        case .directory: return fixed
        case .symlink(let target): return fixed + 2 + target.utf8.count
        }
    }

    /// - Precondition: the path and link target fit their 16-bit lengths, as every entry that
    ///   passed `ManifestValidator` does (4096 bytes at most).
    func encode(into writer: inout FieldWriter) {
        let pathBytes = path.utf8
        precondition(pathBytes.count <= Int(UInt16.max), "a manifest path is validated before it is encoded")
        writer.append(UInt16(pathBytes.count))
        writer.append(contentsOf: pathBytes)
        switch kind {
        case .file: writer.append(KindCode.file.rawValue)
        case .directory: writer.append(KindCode.directory.rawValue)
        case .symlink: writer.append(KindCode.symlink.rawValue)
        }
        writer.append(mode)
        writer.append(modified.seconds)
        writer.append(modified.nanoseconds)
        switch kind {
        case .file(let chunks):
            writer.append(UInt32(chunks.count))
            for chunk in chunks {
                writer.append(chunk.length)
                writer.append(chunk.hash)
            }
        case .directory:
            break
        case .symlink(let target):
            let targetBytes = target.utf8
            precondition(targetBytes.count <= Int(UInt16.max), "a link target is validated before it is encoded")
            writer.append(UInt16(targetBytes.count))
            writer.append(contentsOf: targetBytes)
        }
    }

    /// Reads the next entry of a page.
    init(decoding reader: inout FieldReader<MirrorError>) throws(MirrorError) {
        let start = reader.offset
        let pathLength = try reader.integer(UInt16.self, "path length")
        let pathBytes = try reader.bytes(Int(pathLength), "path")
        guard let path = String(validating: pathBytes, as: UTF8.self) else {
            throw reader.failure("the path of the entry starting here is not UTF-8", at: start)
        }
        let kindByte = try reader.integer(UInt8.self, "kind of \(MirrorError.quoted(path))")
        guard let kindCode = KindCode(rawValue: kindByte) else {
            throw reader.failure("\(MirrorError.quoted(path)) has unknown kind \(kindByte)")
        }
        let mode = try reader.integer(UInt32.self, "mode of \(MirrorError.quoted(path))")
        let seconds = try reader.integer(Int64.self, "time of \(MirrorError.quoted(path))")
        let nanoseconds = try reader.integer(UInt32.self, "time of \(MirrorError.quoted(path))")
        let kind: Kind
        switch kindCode {
        case .file:
            let count = try reader.integer(UInt32.self, "chunk count of \(MirrorError.quoted(path))")
            // The count is checked against the bytes left before any array is sized by it.
            guard Int(count) <= reader.remaining / ManifestFormat.chunkBytes else {
                throw reader.failure("\(MirrorError.quoted(path)) claims \(count) chunks, which need \(UInt64(count) * UInt64(ManifestFormat.chunkBytes)) bytes, only \(reader.remaining) remain")
            }
            var chunks: [ChunkReference] = []
            chunks.reserveCapacity(Int(count))
            for _ in 0..<count {
                let length = try reader.integer(UInt32.self, "chunk length")
                chunks.append(ChunkReference(hash: try reader.hash("chunk hash"), length: length))
            }
            kind = .file(chunks: chunks)
        case .directory:
            kind = .directory
        case .symlink:
            let targetLength = try reader.integer(UInt16.self, "link target length of \(MirrorError.quoted(path))")
            let targetBytes = try reader.bytes(Int(targetLength), "link target of \(MirrorError.quoted(path))")
            guard let target = String(validating: targetBytes, as: UTF8.self) else {
                throw reader.failure("the link target of \(MirrorError.quoted(path)) is not UTF-8")
            }
            kind = .symlink(target: target)
        }
        self.init(path: path, kind: kind, mode: mode, modified: FileTime(seconds: seconds, nanoseconds: nanoseconds))
    }
}
