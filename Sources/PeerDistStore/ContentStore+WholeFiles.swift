import PeerDistHashing

/// The files that hold a whole content: what the node indexes by mirror chunk, so that snapshot
/// and mirror fetches copy bytes it already holds as content instead of fetching them.
extension ContentStore {
    /// A file holding every byte of a content: a publication not known stale, or a finished download.
    public struct WholeFile: Hashable, Sendable {
        public let contentID: ContentID
        /// Absolute and free of symbolic links.
        public let path: String
        public let size: UInt64
        public let kind: StoreEntry.Kind
    }

    /// Every file that holds a whole content, by path.
    public func wholeFiles() -> [WholeFile] {
        state.withLock { state in
            var files: [WholeFile] = []
            for publication in state.index.publications.values where !publication.isStale {
                files.append(WholeFile(contentID: publication.contentID, path: publication.path, size: publication.status.size, kind: .published))
            }
            for entry in state.index.cache.values where entry.isComplete {
                files.append(WholeFile(contentID: entry.contentID, path: cachePath(entry.contentID, .data), size: entry.size, kind: .cached))
            }
            return files.sorted { $0.path < $1.path }
        }
    }

    /// Whether `file` still holds its content as far as the store can tell without reading it: a
    /// finished download still in the cache, or a published file with the size, modification
    /// time and inode it had when hashed (else it is marked stale, as serving would).
    public func stillHolds(_ file: WholeFile) -> Bool {
        switch file.kind {
        case .cached:
            return state.withLock { $0.index.cache[file.contentID]?.isComplete ?? false }
        case .published:
            guard let recorded = state.withLock({ state -> FileStatus? in
                guard let publication = state.index.publications[file.path], !publication.isStale, publication.contentID == file.contentID else { return nil }
                return publication.status
            }) else { return false }
            guard let current = try? FileStatus.of(file.path), current.matches(recorded) else {
                markStale(path: file.path, status: recorded)
                return false
            }
            return true
        }
    }

    /// Every content the store knows, whole or not: what chunk lists may be kept for.
    public func knownContentIDs() -> Set<ContentID> {
        state.withLock { Set($0.index.contents.keys) }
    }
}
