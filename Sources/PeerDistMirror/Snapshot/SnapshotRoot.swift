import PeerDistHashing
import PeerDistWire

/// The head of an immutable snapshot of a tree: the pages that hold its entries, in the mirror
/// manifest's page format. Unsigned: what vouches for it is its hash, the `SnapshotID`. It holds
/// no time of its own, so the same tree (same entries, modes and times) always gets the same ID.
/// Integers big-endian:
///
/// ```
/// "PDSN" formatVersion(2)=1 entryCount(4) totalFileBytes(8) pageCount(4)
/// { pageHash(32) entryCount(4) byteCount(4) }…
/// ```
public struct SnapshotRoot: Hashable, Sendable {
    static let magic: [UInt8] = Array("PDSN".utf8)
    public static let formatVersion: UInt16 = 1
    static let headerBytes = 4 + 2 + 4 + 8 + 4
    static let maximumBytes = headerBytes + ManifestFormat.maximumPages * ManifestFormat.pageReferenceBytes

    public let entryCount: Int
    /// The sum of the sizes of the snapshot's files.
    public let totalFileBytes: UInt64
    public let pages: [ManifestRoot.PageReference]

    /// A root for pages already encoded, after the same layout checks a decoded root gets.
    public init(entryCount: Int, totalFileBytes: UInt64, pages: [ManifestRoot.PageReference]) throws(MirrorError) {
        try ManifestRoot.checkLayout(createdAt: FileTime(seconds: 0, nanoseconds: 0), entryCount: entryCount, totalFileBytes: totalFileBytes, pages: pages)
        self.entryCount = entryCount
        self.totalFileBytes = totalFileBytes
        self.pages = pages
    }

    public var id: SnapshotID { SnapshotID(ofRoot: encoded()) }
    public var pageHashes: [HashValue] { pages.map(\.hash) }

    public func encoded() -> [UInt8] {
        var writer = FieldWriter(capacity: Self.headerBytes + pages.count * ManifestFormat.pageReferenceBytes)
        writer.append(contentsOf: Self.magic)
        writer.append(Self.formatVersion)
        writer.append(UInt32(entryCount))
        writer.append(totalFileBytes)
        writer.append(UInt32(pages.count))
        for page in pages {
            writer.append(page.hash)
            writer.append(UInt32(page.entryCount))
            writer.append(UInt32(page.byteCount))
        }
        return writer.bytes
    }

    /// Decodes a root from the network that must be the one `id` names: its hash is checked
    /// first, then every length and limit before anything is sized by it.
    public init(decoding bytes: [UInt8], expecting id: SnapshotID) throws(MirrorError) {
        guard bytes.count <= Self.maximumBytes else {
            throw MirrorError(.tooLarge, "the root of snapshot \(id) has \(bytes.count) bytes, more than any root (\(Self.maximumBytes))")
        }
        guard SnapshotID(ofRoot: bytes) == id else {
            throw MirrorError(.wrongMirror, "the root offered for snapshot \(id) is not the one its ID names")
        }
        try self.init(decoding: bytes, subject: "the root of snapshot \(id)")
    }

    /// Decodes a root whatever its hash (what `init(decoding:expecting:)` does after checking it).
    public init(decoding bytes: [UInt8], subject: String = "a snapshot root") throws(MirrorError) {
        var reader = FieldReader.manifest(bytes, subject: subject)
        guard bytes.count <= Self.maximumBytes else {
            throw reader.failure("it has \(bytes.count) bytes, more than any root (\(Self.maximumBytes))", code: .tooLarge)
        }
        guard try reader.bytes(Self.magic.count, "magic").elementsEqual(Self.magic) else {
            throw reader.failure("it does not start with \"PDSN\"", at: 0)
        }
        let format = try reader.integer(UInt16.self, "format version")
        guard format == Self.formatVersion else {
            throw reader.failure("format version \(format) is not supported (this node reads version \(Self.formatVersion))")
        }
        let entryCount = try reader.integer(UInt32.self, "entry count")
        let totalFileBytes = try reader.integer(UInt64.self, "total file bytes")
        let pageCount = try reader.integer(UInt32.self, "page count")
        guard pageCount <= ManifestFormat.maximumPages else {
            throw reader.failure("\(pageCount) pages are more than the limit of \(ManifestFormat.maximumPages)", code: .tooLarge)
        }
        let expectedRemaining = Int(pageCount) * ManifestFormat.pageReferenceBytes
        guard reader.remaining == expectedRemaining else {
            throw reader.failure("\(pageCount) pages need \(expectedRemaining) bytes, \(reader.remaining) remain")
        }
        var pages: [ManifestRoot.PageReference] = []
        pages.reserveCapacity(Int(pageCount))
        for _ in 0..<pageCount {
            let hash = try reader.hash("page hash")
            let pageEntries = try reader.integer(UInt32.self, "page entry count")
            let pageBytes = try reader.integer(UInt32.self, "page byte count")
            pages.append(ManifestRoot.PageReference(hash: hash, entryCount: Int(pageEntries), byteCount: Int(pageBytes)))
        }
        do {
            try self.init(entryCount: Int(entryCount), totalFileBytes: totalFileBytes, pages: pages)
        } catch {
            throw MirrorError(error.code, "\(subject): \(error.message)")
        }
    }
}
