import Foundation
import Logging
import PeerDistHashing
import PeerDistMirror
import PeerDistStore

/// The mirror chunks of the files this node holds as content (published in place, or fetched by
/// content ID and complete), so that a snapshot or mirror fetch copies them instead of fetching
/// them again.
///
/// Content is described by MS-PCCRC segments: version 1 cuts 32 MiB segments of 64 KiB blocks,
/// version 2 cuts at the same gear-hash boundaries as mirror chunks but names segments by a
/// truncated SHA-512, never by the SHA-256 a mirror chunk is named by. Neither maps to mirror
/// chunks without reading the bytes, so each content's file is cut into mirror chunks once and
/// the list kept in `DIR/content-chunks/<content ID>` (`FileChunkList`): the bytes a content ID
/// names always cut the same way, so a restart reads the list back instead of the file. Files
/// are cut when a snapshot or mirror fetch may need them, and then only those of the size of
/// one of its files (they may be that file whole): cutting every file published or fetched, in
/// the background, would hash each of them a second time whether a tree ever needs it or not.
///
/// The index is a hint: every chunk read from it is checked against its SHA-256
/// (`LocalChunkIndex`), so a file changed after publishing never yields a wrong chunk. It only
/// serves this node's own fetches and is never served to peers, so content shared privately
/// (with an audience) reaches nobody through it.
final class ContentChunkCatalog: Sendable {
    let store: ContentStore
    /// `DIR/content-chunks`.
    let directory: String
    let logger: Logger
    /// Locations are absolute paths less their leading `/`: published files may lie anywhere.
    let index: LocalChunkIndex

    private struct State {
        /// The content each indexed path holds.
        var indexed: [String: ContentID] = [:]
        /// Files that could not be cut as they were (changed while read, unreadable, not what the
        /// store recorded), with their content: not tried again until the store lists them with
        /// another (published again).
        var failed: [String: ContentID] = [:]
    }

    private let state = PThreadMutex(State())
    /// One change to the index at a time: an update's quick pass, or one file's cut.
    private let work = PThreadMutex(())

    init(store: ContentStore, dataDirectory: DataDirectory, logger: Logger) throws {
        self.store = store
        directory = "\(dataDirectory.path)/content-chunks"
        self.logger = logger
        index = try LocalChunkIndex(root: "/")
    }

    /// Which files without a kept list an update cuts.
    enum Cutting: Sendable {
        /// Every one.
        case all
        /// Those of these sizes: a fetch, which cuts the files that may be one it needs whole,
        /// rather than read them all first.
        case ofSizes(Set<UInt64>)

        func admits(_ size: UInt64) -> Bool {
            switch self {
            case .all: return true
            case .ofSizes(let sizes): return sizes.contains(size)
            }
        }
    }

    /// Brings the index up to date with the store and returns it: files the store no longer
    /// lists are forgotten, each new one is indexed from its kept list, and those without one
    /// that `cutting` admits are cut into chunks (and the list kept). Blocks for as long as
    /// cutting takes; files are cut one at a time, so a concurrent update waits for one file's
    /// cut at most, not for another's whole pass.
    func update(cutting: Cutting = .all) -> LocalChunkIndex {
        let toCut = work.withLock { _ -> [ContentStore.WholeFile] in
            let files = store.wholeFiles()
            let listed = Dictionary(files.map { ($0.path, $0.contentID) }, uniquingKeysWith: { first, _ in first })
            let (stale, known) = state.withLock { state -> ([String], [String: ContentID]) in
                let stale = state.indexed.filter { listed[$0.key] != $0.value }.map(\.key)
                for path in stale { state.indexed[path] = nil }
                state.failed = state.failed.filter { listed[$0.key] == $0.value }
                return (stale, state.indexed.merging(state.failed) { first, _ in first })
            }
            for path in stale { index.removeLocations(inFile: Self.location(of: path)) }
            var toCut: [ContentStore.WholeFile] = []
            for file in files where known[file.path] != file.contentID {
                if let list = keptList(of: file) {
                    index.add(file: Self.location(of: file.path), chunks: list.chunks)
                    state.withLock { $0.indexed[file.path] = file.contentID }
                } else if cutting.admits(file.size) {
                    toCut.append(file)
                }
            }
            removeUnknownLists()
            return toCut
        }
        for file in toCut {
            work.withLock { _ in
                // Another update may have cut it meanwhile.
                guard state.withLock({ $0.indexed[file.path] != file.contentID && $0.failed[file.path] != file.contentID }) else { return }
                if let list = cut(file) {
                    index.add(file: Self.location(of: file.path), chunks: list.chunks)
                    state.withLock { $0.indexed[file.path] = file.contentID }
                } else {
                    state.withLock { $0.failed[file.path] = file.contentID }
                }
            }
        }
        return index
    }

    private func listPath(of id: ContentID) -> String {
        "\(directory)/\(id.hex)"
    }

    /// The list kept for `file`'s content, if there is one that fits it.
    private func keptList(of file: ContentStore.WholeFile) -> FileChunkList? {
        let path = listPath(of: file.contentID)
        guard let bytes = FileManager.default.contents(atPath: path) else { return nil }
        if let list = try? FileChunkList(decoding: Array(bytes), source: path), list.length == file.size { return list }
        // Removed, so that it is reported once and the file is cut again like one never cut.
        logger.warning("a content's chunk list is damaged; the file will be cut again", metadata: ["list": "\(path)"])
        try? FileManager.default.removeItem(atPath: path)
        return nil
    }

    /// `file` cut into chunks now, and the list kept. Nil when the file is not the content the
    /// store says (changed, gone) or cannot be read.
    private func cut(_ file: ContentStore.WholeFile) -> FileChunkList? {
        let list: FileChunkList
        do {
            list = try FileChunkList.cut(path: file.path)
        } catch {
            logger.info("a file held as content was not indexed by chunk", metadata: ["path": "\(file.path)", "error": "\(error)"])
            return nil
        }
        // Only a list of the bytes the content ID names is kept: the file must still be what
        // the store recorded (and it did not change while it was cut, or `cut` would have thrown).
        guard list.length == file.size, store.stillHolds(file) else { return nil }
        let path = listPath(of: file.contentID)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(list.encoded(), to: path)
        } catch {
            logger.warning("cannot keep a content's chunk list", metadata: ["list": "\(path)", "error": "\(error)"])
        }
        return list
    }

    /// Deletes the lists of contents the store no longer knows.
    private func removeUnknownLists() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let known = Set(store.knownContentIDs().map(\.hex))
        for name in names where !known.contains(name) {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
        }
    }

    private static func location(of path: String) -> String {
        String(path.drop { $0 == "/" })
    }
}
