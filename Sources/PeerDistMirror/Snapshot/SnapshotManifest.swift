import PeerDistHashing

/// One verified snapshot of a tree: its root, its pages and the entries they hold, sorted by path
/// bytes and checked by `ManifestValidator` (the rules a mirror follower applies: nothing it
/// names can land outside the tree it is written into).
///
/// Made from a scanned tree with `build`, or by a fetcher with `assemble` from a root whose hash
/// it checked against the ID and the pages it fetched.
public struct SnapshotManifest: Sendable {
    public let root: SnapshotRoot
    public let id: SnapshotID
    public let entries: [MirrorEntry]
    /// In the root's order.
    public let pages: [ManifestPage]
    private let pageIndex: [HashValue: Int]

    private init(root: SnapshotRoot, entries: [MirrorEntry], pages: [ManifestPage]) {
        self.root = root
        self.id = root.id
        self.entries = entries
        self.pages = pages
        var pageIndex: [HashValue: Int] = [:]
        for (index, page) in pages.enumerated() { pageIndex[page.hash] = index }
        self.pageIndex = pageIndex
    }

    /// The bytes of the page named `hash`, if it is one of this snapshot's.
    public func page(_ hash: HashValue) -> [UInt8]? {
        pageIndex[hash].map { pages[$0].bytes }
    }

    public var totalFileBytes: UInt64 { root.totalFileBytes }

    /// The snapshot of `entries`, in any order: sorted by path bytes, checked and cut into pages.
    public static func build(entries: [MirrorEntry]) throws(MirrorError) -> SnapshotManifest {
        let sorted = MirrorManifest.sortedByPath(entries)
        let totalFileBytes = try ManifestValidator.validate(sorted)
        let pages = ManifestPage.paginate(sorted)
        let root = try SnapshotRoot(entryCount: sorted.count, totalFileBytes: totalFileBytes, pages: pages.map(\.reference))
        return SnapshotManifest(root: root, entries: sorted, pages: pages)
    }

    /// The snapshot `root` describes, from its pages' bytes keyed by hash (extra pages are
    /// ignored): each page checked against the root before it is decoded, the entries against the
    /// safety rules once all are in, and their sizes against the root's total.
    public static func assemble(root: SnapshotRoot, pages supplied: [HashValue: [UInt8]]) throws(MirrorError) -> SnapshotManifest {
        let (pages, entries) = try MirrorManifest.assemblePages(
            root.pages, supplied: supplied, totalFileBytes: root.totalFileBytes, describedAs: "snapshot \(root.id)")
        return SnapshotManifest(root: root, entries: entries, pages: pages)
    }

    /// The entry at `path`, found by binary search over the sorted entries.
    public func entry(at path: String) -> MirrorEntry? {
        let wanted = PathBytes(path)
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            let here = PathBytes(entries[middle].path)
            if here == wanted { return entries[middle] }
            if here < wanted { low = middle + 1 } else { high = middle }
        }
        return nil
    }
}
