import Crypto
import PeerDistHashing
import PeerDistWire

/// Consecutive entries of a manifest, encoded back to back, named by the SHA-256 of their bytes.
///
/// Pages are cut by content, not by position, so that a small change to a large tree changes one
/// or two pages and a follower fetches only those: a page ends after an entry whose path hashes
/// to a cut point (the first two bytes of SHA-256(path), big-endian, below 65536/256, so about
/// every 256 entries), or after the entry that takes it to 64 KiB, or before an entry that would
/// take it past 16 MiB. A page is never empty.
public struct ManifestPage: Hashable, Sendable {
    public let bytes: [UInt8]
    public let hash: HashValue
    public let entryCount: Int

    init(bytes: [UInt8], entryCount: Int) {
        self.init(bytes: bytes, hash: HashValue(SHA256.hash(data: bytes)), entryCount: entryCount)
    }

    private init(bytes: [UInt8], hash: HashValue, entryCount: Int) {
        self.bytes = bytes
        self.hash = hash
        self.entryCount = entryCount
    }

    /// What the root says of this page.
    public var reference: ManifestRoot.PageReference {
        ManifestRoot.PageReference(hash: hash, entryCount: entryCount, byteCount: bytes.count)
    }

    /// Whether a page ends after the entry at `path`, whatever the page's size.
    static func isCutPoint(path: String) -> Bool {
        let digest = SHA256.hash(data: Array(path.utf8))
        return digest.withUnsafeBytes { UInt16($0[0]) << 8 | UInt16($0[1]) } < UInt16(65536 / 256)
    }

    /// Encodes `entries`, already sorted and each no larger than a page, into pages.
    package static func paginate(_ entries: some Sequence<MirrorEntry>) -> [ManifestPage] {
        var pages: [ManifestPage] = []
        var writer = FieldWriter(capacity: ManifestFormat.targetPageBytes)
        var count = 0
        func finishPage() {
            // A page cut early at a path keeps a buffer sized for a whole one; a manifest is kept
            // for as long as its version is served, so the page keeps only its bytes.
            let bytes = writer.bytes.count < ManifestFormat.targetPageBytes / 2 ? Self.exactCopy(of: writer.bytes) : writer.bytes
            pages.append(ManifestPage(bytes: bytes, entryCount: count))
            writer = FieldWriter(capacity: ManifestFormat.targetPageBytes)
            count = 0
        }
        for entry in entries {
            if count > 0, writer.bytes.count + entry.encodedByteCount > ManifestFormat.maximumPageBytes {
                finishPage()
            }
            entry.encode(into: &writer)
            count += 1
            if writer.bytes.count >= ManifestFormat.targetPageBytes || isCutPoint(path: entry.path) {
                finishPage()
            }
        }
        if count > 0 { finishPage() }
        return pages
    }

    /// `bytes` in a buffer of their own size (converting an array may share its buffer instead).
    private static func exactCopy(of bytes: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, initialized in
            initialized = buffer.initialize(fromContentsOf: bytes)
        }
    }

    /// Page bytes from the network and their entries, checked against what the root says of
    /// them: their hash, size and entry count. The entries still need `ManifestValidator`.
    package static func decode(_ bytes: [UInt8], as reference: ManifestRoot.PageReference) throws(MirrorError) -> (page: ManifestPage, entries: [MirrorEntry]) {
        let subject = "page \(reference.hash.hex.prefix(16))…"
        guard bytes.count == reference.byteCount else {
            throw MirrorError(.corruptPage, "\(subject) has \(bytes.count) bytes, the root says \(reference.byteCount)")
        }
        guard HashValue(SHA256.hash(data: bytes)) == reference.hash else {
            throw MirrorError(.corruptPage, "\(subject): its bytes do not hash to its name")
        }
        // Sized by what the bytes can hold, whatever the count claims.
        var entries: [MirrorEntry] = []
        entries.reserveCapacity(min(reference.entryCount, bytes.count / ManifestFormat.minimumEntryBytes))
        var reader = FieldReader.manifest(bytes, subject: subject)
        while !reader.isAtEnd {
            guard entries.count < reference.entryCount else {
                throw reader.failure("bytes follow the \(reference.entryCount) entries the root gives the page", code: .corruptPage)
            }
            entries.append(try MirrorEntry(decoding: &reader))
        }
        guard entries.count == reference.entryCount else {
            throw MirrorError(.corruptPage, "\(subject) holds \(entries.count) entries, the root says \(reference.entryCount)")
        }
        return (ManifestPage(bytes: bytes, hash: reference.hash, entryCount: entries.count), entries)
    }
}
