import PeerDistHashing
import PeerDistWire

/// One verified version of a mirror: its signed root, its pages, and the entries they hold,
/// sorted by path bytes and checked by `ManifestValidator`.
///
/// A publisher makes one with `build` from the entries of a tree; a follower with `assemble`
/// from a root it decoded and the pages it fetched, reusing the pages of the version it holds
/// that `missingPages(given:)` says it need not fetch again.
public struct MirrorManifest: Sendable {
    public let root: ManifestRoot
    public let entries: [MirrorEntry]
    /// In the root's order.
    public let pages: [ManifestPage]
    private let pageIndex: [HashValue: Int]

    private init(root: ManifestRoot, entries: [MirrorEntry], pages: [ManifestPage]) {
        self.root = root
        self.entries = entries
        self.pages = pages
        var pageIndex: [HashValue: Int] = [:]
        pageIndex.reserveCapacity(pages.count)
        for (index, page) in pages.enumerated() { pageIndex[page.hash] = index }
        self.pageIndex = pageIndex
    }

    public var name: MirrorName { root.name }
    public var publisher: PeerKey { root.publisher }
    public var version: UInt64 { root.version }
    public var pageHashes: [HashValue] { root.pageHashes }

    /// The bytes of the page named `hash`, if it is one of this version's.
    public func page(_ hash: HashValue) -> [UInt8]? {
        pageIndex[hash].map { pages[$0].bytes }
    }

    /// This version's pages not among `known`, in order and each once.
    public func missingPages(given known: Set<HashValue>) -> [HashValue] {
        root.missingPages(given: known)
    }

    /// Refuses `successor` unless it is a newer version of this mirror.
    public func accepts(successor: ManifestRoot) throws(MirrorError) {
        try root.accepts(successor: successor)
    }

    /// Signs version `version` of the mirror `classifier` of `identity` holding `entries`, which
    /// may come in any order: they are sorted by path bytes, checked, cut into pages and signed.
    public static func build(
        entries: [MirrorEntry], classifier: String, version: UInt64, identity: NodeIdentity, createdAt: FileTime
    ) throws(MirrorError) -> MirrorManifest {
        let sorted = sortedByPath(entries)
        let totalFileBytes = try ManifestValidator.validate(sorted)
        let pages = ManifestPage.paginate(sorted)
        let root = try ManifestRoot.signed(
            by: identity, classifier: classifier, version: version, createdAt: createdAt,
            entryCount: sorted.count, totalFileBytes: totalFileBytes, pages: pages.map(\.reference))
        return MirrorManifest(root: root, entries: sorted, pages: pages)
    }

    /// The version `root` describes, from its pages' bytes (keyed by hash; extra pages are
    /// ignored). Each page is checked against the root before it is decoded, and the entries
    /// against the safety rules once all are in.
    public static func assemble(root: ManifestRoot, pages supplied: [HashValue: [UInt8]]) throws(MirrorError) -> MirrorManifest {
        let (pages, entries) = try assemblePages(
            root.pages, supplied: supplied, totalFileBytes: root.totalFileBytes, describedAs: "\(root.name) version \(root.version)")
        return MirrorManifest(root: root, entries: entries, pages: pages)
    }

    /// Pages and entries of a manifest (a mirror's version or a snapshot) from the pages its root
    /// names: each page checked against its reference, the entries against the safety rules, and
    /// their sizes against the root's total. `describedAs` names the manifest in errors.
    static func assemblePages(
        _ references: [ManifestRoot.PageReference], supplied: [HashValue: [UInt8]], totalFileBytes expected: UInt64, describedAs name: String
    ) throws(MirrorError) -> (pages: [ManifestPage], entries: [MirrorEntry]) {
        var pages: [ManifestPage] = []
        pages.reserveCapacity(references.count)
        var entries: [MirrorEntry] = []
        for (index, reference) in references.enumerated() {
            guard let bytes = supplied[reference.hash] else {
                throw MirrorError(.missingPage, "page \(index) of \(name), \(reference.hash.hex.prefix(16))…, was not supplied")
            }
            let (page, pageEntries) = try ManifestPage.decode(bytes, as: reference)
            pages.append(page)
            entries.append(contentsOf: pageEntries)
        }
        let totalFileBytes: UInt64
        do {
            totalFileBytes = try ManifestValidator.validate(entries)
        } catch {
            throw MirrorError(error.code, "\(name): \(error.message)")
        }
        guard totalFileBytes == expected else {
            throw MirrorError(.malformed, "\(name): its files hold \(totalFileBytes) bytes, its root says \(expected)")
        }
        return (pages, entries)
    }

    /// `entries` in the order of their paths' UTF-8 bytes, the order of a manifest: it does not
    /// depend on Unicode normalisation, as `String`'s own order does.
    static func sortedByPath(_ entries: [MirrorEntry]) -> [MirrorEntry] {
        let paths = entries.map { PathBytes($0.path) }
        // A tree walk usually yields them in order already.
        if paths.indices.dropFirst().allSatisfy({ paths[$0 - 1] < paths[$0] }) { return entries }
        return paths.indices.sorted { paths[$0] < paths[$1] }.map { entries[$0] }
    }
}
