import PeerDistHashing

/// The limits of a mirror manifest, version 1: what a publisher may sign and what a follower
/// accepts. Every length read from a root or page is checked against these before anything is
/// allocated for it.
public enum ManifestFormat {
    /// The format version a root carries after its magic; a follower refuses any other.
    public static let version: UInt16 = 1
    static let magic: [UInt8] = Array("PDMF".utf8)
    /// Prefixed to a root's bytes before signing, so a manifest signature can never be replayed as
    /// a signature of anything else the key signs.
    package static let signatureContext: [UInt8] = Array("PeerDist mirror manifest v1".utf8)

    public static let maximumEntries = 2_000_000
    public static let maximumPages = 65_536
    /// A page is cut after the entry that takes it to this size, when no path cut it earlier.
    public static let targetPageBytes = 64 * 1024
    /// No page, and so no single entry, is larger.
    public static let maximumPageBytes = 16 * 1024 * 1024
    public static let maximumPathBytes = 4096
    public static let maximumComponentBytes = 255
    public static let maximumLinkTargetBytes = 4096
    public static let maximumFileBytes: UInt64 = 1 << 40
    public static let maximumChunkBytes = ContentInformationV2.maximumSegmentSize
    public static let maximumMode: UInt32 = 0o7777
    /// As Linux's MAXSYMLINKS: links followed while resolving one link's target.
    public static let maximumLinkHops = 40
    /// Path components starting with this are the follower's staging files; no entry may use it.
    public static let reservedPrefix = ".peerdist-"

    /// The fields every entry has besides its path's bytes: path length, kind, mode, seconds,
    /// nanoseconds.
    static let entryFixedBytes = 2 + 1 + 4 + 8 + 4
    /// The smallest encoded entry: a directory with a one-byte path.
    static let minimumEntryBytes = entryFixedBytes + 1
    static let chunkBytes = 4 + 32
    static let publisherKeyBytes = 32
    static let signatureBytes = 64
    static let pageReferenceBytes = 32 + 4 + 4
    static let maximumClassifierBytes = 64
    /// The largest root: every field at its limit.
    static let maximumRootBytes = magic.count + 2 + publisherKeyBytes + 1 + maximumClassifierBytes
        + 8 + 8 + 4 + 4 + 8 + 4 + maximumPages * pageReferenceBytes + signatureBytes
}
