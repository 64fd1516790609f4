import PeerDistHashing

/// One change to the store's index, as the log records it. Replaying every record of the log in
/// order rebuilds the index.
///
/// Body of a record (integers big-endian; text and blobs as a 4-byte length and the bytes):
/// ```
/// 1 published    path size(8) mtime-ns(8) inode(8) device(8) version(1) stale(1) last-access-ns(8) content-ID(32) CI
/// 2 unpublished  path
/// 3 stale        path
/// 4 cached       content-ID(32) complete(1) size(8) last-access-ns(8) CI
/// 5 completed    content-ID(32)
/// 6 uncached     content-ID(32)
/// 7 touched      content-ID(32) last-access-ns(8)
/// ```
enum StoreLogRecord: Sendable {
    /// A file published in place; replaces any earlier publication of the same path.
    case published(PublicationRecord)
    case unpublished(path: String)
    /// The published file changed; its blocks are no longer served.
    case markedStale(path: String)
    /// A cache entry, complete or being downloaded; replaces any earlier entry for the content.
    case cached(CacheRecord)
    /// A download finished: the entry's file is now `<hex>.data`.
    case completed(ContentID)
    case uncached(ContentID)
    /// The content was read or exported at this time (nanoseconds since the epoch).
    case touched(ContentID, at: Int64)

    private enum Tag: UInt8 {
        case published = 1, unpublished, markedStale, cached, completed, uncached, touched
    }

    func encoded() -> [UInt8] {
        var writer = RecordWriter()
        switch self {
        case .published(let record):
            writer.append(Tag.published.rawValue)
            writer.append(text: record.path)
            writer.append(record.status.size)
            writer.append(UInt64(bitPattern: record.status.modified))
            writer.append(record.status.inode)
            writer.append(record.status.device)
            writer.append(UInt8(record.version.rawValue))
            writer.append(record.isStale ? 1 as UInt8 : 0)
            writer.append(UInt64(bitPattern: record.lastAccess))
            writer.append(record.contentID)
            writer.append(blob: record.information)
        case .unpublished(let path):
            writer.append(Tag.unpublished.rawValue)
            writer.append(text: path)
        case .markedStale(let path):
            writer.append(Tag.markedStale.rawValue)
            writer.append(text: path)
        case .cached(let record):
            writer.append(Tag.cached.rawValue)
            writer.append(record.contentID)
            writer.append(record.isComplete ? 1 as UInt8 : 0)
            writer.append(record.size)
            writer.append(UInt64(bitPattern: record.lastAccess))
            writer.append(blob: record.information)
        case .completed(let id):
            writer.append(Tag.completed.rawValue)
            writer.append(id)
        case .uncached(let id):
            writer.append(Tag.uncached.rawValue)
            writer.append(id)
        case .touched(let id, let time):
            writer.append(Tag.touched.rawValue)
            writer.append(id)
            writer.append(UInt64(bitPattern: time))
        }
        return writer.bytes
    }

    /// The record a body holds; nil for a body that does not parse (a record of an unknown type,
    /// written by a later version, is skipped rather than trusted).
    init?(decoding body: [UInt8]) {
        var reader = RecordReader(body)
        guard let tagByte = reader.byte(), let tag = Tag(rawValue: tagByte) else { return nil }
        switch tag {
        case .published:
            guard let path = reader.text(), let size = reader.uint64(), let modified = reader.uint64(),
                  let inode = reader.uint64(), let device = reader.uint64(),
                  let versionByte = reader.byte(), let version = ContentInformationVersion(rawValue: Int(versionByte)),
                  let stale = reader.byte(), let lastAccess = reader.uint64(),
                  let id = reader.contentID(), let information = reader.blob()
            else { return nil }
            self = .published(PublicationRecord(
                path: path,
                status: FileStatus(size: size, modified: Int64(bitPattern: modified), inode: inode, device: device),
                version: version, isStale: stale != 0, lastAccess: Int64(bitPattern: lastAccess),
                contentID: id, information: information))
        case .unpublished:
            guard let path = reader.text() else { return nil }
            self = .unpublished(path: path)
        case .markedStale:
            guard let path = reader.text() else { return nil }
            self = .markedStale(path: path)
        case .cached:
            guard let id = reader.contentID(), let complete = reader.byte(), let size = reader.uint64(),
                  let lastAccess = reader.uint64(), let information = reader.blob()
            else { return nil }
            self = .cached(CacheRecord(
                contentID: id, isComplete: complete != 0, size: size, lastAccess: Int64(bitPattern: lastAccess),
                information: information))
        case .completed:
            guard let id = reader.contentID() else { return nil }
            self = .completed(id)
        case .uncached:
            guard let id = reader.contentID() else { return nil }
            self = .uncached(id)
        case .touched:
            guard let id = reader.contentID(), let time = reader.uint64() else { return nil }
            self = .touched(id, at: Int64(bitPattern: time))
        }
        guard reader.isAtEnd else { return nil }
    }
}

/// A file published in place, as logged.
struct PublicationRecord: Sendable {
    /// Absolute and free of symbolic links.
    var path: String
    /// The file as it was hashed; any difference later means it may have changed.
    var status: FileStatus
    var version: ContentInformationVersion
    var isStale: Bool
    var lastAccess: Int64
    var contentID: ContentID
    /// The encoded Content Information.
    var information: [UInt8]
}

/// A content in the cache, as logged.
struct CacheRecord: Sendable {
    var contentID: ContentID
    var isComplete: Bool
    var size: UInt64
    var lastAccess: Int64
    /// The encoded Content Information.
    var information: [UInt8]
}

/// Appends big-endian fields to a record body.
private struct RecordWriter {
    var bytes: [UInt8] = []

    mutating func append(_ value: UInt8) { bytes.append(value) }

    mutating func append(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ id: ContentID) { bytes += id.value.bytes }

    mutating func append(blob: [UInt8]) {
        append(UInt32(blob.count))
        bytes += blob
    }

    mutating func append(text: String) { append(blob: Array(text.utf8)) }
}

/// Reads big-endian fields from a record body; every read returns nil rather than run past the end.
private struct RecordReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func byte() -> UInt8? { take(1)?.first }

    mutating func uint32() -> UInt32? { take(4)?.reduce(0) { $0 << 8 | UInt32($1) } }

    mutating func uint64() -> UInt64? { take(8)?.reduce(0) { $0 << 8 | UInt64($1) } }

    mutating func contentID() -> ContentID? { take(ContentID.byteCount).flatMap { ContentID(bytes: Array($0)) } }

    mutating func blob() -> [UInt8]? {
        guard let count = uint32(), let bytes = take(Int(count)) else { return nil }
        return Array(bytes)
    }

    mutating func text() -> String? { blob().map { String(decoding: $0, as: UTF8.self) } }
}
