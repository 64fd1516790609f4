import PeerDistHashing
import PeerDistWire

/// What changed between two versions of a mirror's entries: the paths removed, and the entries
/// added or changed, a large file's as an edit of its old chunk list (chunks kept at either end,
/// the new ones between). A follower that holds the old version asks for this instead of the
/// changed pages, which after changes spread over a large tree are nearly all of them.
///
/// A diff is not trusted: the follower applies it to its own entries, pages the result as the
/// publisher does, and keeps it only if every page hash matches the signed root's.
///
/// ```
/// "PDMD" format(1) removed(4) { pathLength(2) path }… changes(4) { change }…
/// change: 1 entry (as in a page)
///         2 pathLength(2) path mode(4) seconds(8) nanoseconds(4) kept-first(4) kept-last(4)
///           count(4) { length(4) hash(32) }…
/// ```
package struct ManifestDiff: Equatable, Sendable {
    enum Change: Equatable, Sendable {
        case entry(MirrorEntry)
        /// A file that kept its old first `prefix` and last `suffix` chunks, with `middle` between.
        case fileEdit(path: String, mode: UInt32, modified: FileTime, prefix: UInt32, suffix: UInt32, middle: [ChunkReference])
    }

    var removed: [String]
    var changes: [Change]

    init(removed: [String], changes: [Change]) {
        self.removed = removed
        self.changes = changes
    }

    static let magic = Array("PDMD".utf8)
    /// Files with fewer chunks travel whole: an edit saves nothing worth its bookkeeping.
    static let editableChunkCount = 16

    /// The diff that turns `old` into `new` (both as a manifest holds them).
    package static func between(_ old: [MirrorEntry], _ new: [MirrorEntry]) -> ManifestDiff {
        let oldByPath = Dictionary(old.map { (PathBytes($0.path), $0) }, uniquingKeysWith: { first, _ in first })
        let newPaths = Set(new.map { PathBytes($0.path) })
        let removed = old.filter { !newPaths.contains(PathBytes($0.path)) }.map(\.path)
        var changes: [Change] = []
        for entry in new {
            let previous = oldByPath[PathBytes(entry.path)]
            guard previous != entry else { continue }
            if case .file(let chunks)? = previous?.kind, case .file(let newChunks) = entry.kind,
               newChunks.count >= editableChunkCount, chunks.count >= editableChunkCount {
                let prefix = zip(chunks, newChunks).prefix { $0 == $1 }.count
                let room = min(chunks.count, newChunks.count) - prefix
                let suffix = zip(chunks.reversed(), newChunks.reversed()).prefix(room).prefix { $0 == $1 }.count
                if prefix + suffix > 0 {
                    changes.append(.fileEdit(
                        path: entry.path, mode: entry.mode, modified: entry.modified, prefix: UInt32(prefix), suffix: UInt32(suffix),
                        middle: Array(newChunks[prefix..<(newChunks.count - suffix)])))
                    continue
                }
            }
            changes.append(.entry(entry))
        }
        return ManifestDiff(removed: removed, changes: changes)
    }

    /// `old` with the diff applied, sorted as a manifest is. Throws when the diff does not fit
    /// `old` (an edit of a file it does not have, or keeps more chunks than it had).
    package func apply(to old: [MirrorEntry]) throws(MirrorError) -> [MirrorEntry] {
        var byPath = Dictionary(old.map { (PathBytes($0.path), $0) }, uniquingKeysWith: { first, _ in first })
        for path in removed { byPath[PathBytes(path)] = nil }
        for change in changes {
            switch change {
            case .entry(let entry):
                byPath[PathBytes(entry.path)] = entry
            case .fileEdit(let path, let mode, let modified, let prefix, let suffix, let middle):
                let key = PathBytes(path)
                guard case .file(let chunks)? = byPath[key]?.kind, Int(prefix) + Int(suffix) <= chunks.count else {
                    throw MirrorError(.malformed, "the manifest diff edits \(MirrorError.quoted(path)), which the version it applies to does not have as such")
                }
                let kept = Array(chunks.prefix(Int(prefix))) + middle + Array(chunks.suffix(Int(suffix)))
                byPath[key] = MirrorEntry(path: path, kind: .file(chunks: kept), mode: mode, modified: modified)
            }
        }
        return MirrorManifest.sortedByPath(Array(byPath.values))
    }

    package func encoded() -> [UInt8] {
        var writer = FieldWriter()
        writer.append(contentsOf: Self.magic)
        writer.append(UInt8(1))
        writer.append(UInt32(removed.count))
        for path in removed {
            writer.append(UInt16(path.utf8.count))
            writer.append(contentsOf: path.utf8)
        }
        writer.append(UInt32(changes.count))
        for change in changes {
            switch change {
            case .entry(let entry):
                writer.append(UInt8(1))
                entry.encode(into: &writer)
            case .fileEdit(let path, let mode, let modified, let prefix, let suffix, let middle):
                writer.append(UInt8(2))
                writer.append(UInt16(path.utf8.count))
                writer.append(contentsOf: path.utf8)
                writer.append(mode)
                writer.append(modified.seconds)
                writer.append(modified.nanoseconds)
                writer.append(prefix)
                writer.append(suffix)
                writer.append(UInt32(middle.count))
                for chunk in middle {
                    writer.append(chunk.length)
                    writer.append(chunk.hash)
                }
            }
        }
        return writer.bytes
    }

    /// Parses a diff from a peer; every count is checked against the bytes left before use.
    package init(decoding bytes: [UInt8]) throws(MirrorError) {
        var reader = FieldReader.manifest(bytes, subject: "the manifest diff")
        guard Array(try reader.bytes(4, "magic")) == Self.magic, try reader.integer(UInt8.self, "format") == 1 else {
            throw reader.failure("not a manifest diff of a known format")
        }
        func path(_ field: String) throws(MirrorError) -> String {
            let length = try reader.integer(UInt16.self, "\(field) length")
            guard let text = String(validating: try reader.bytes(Int(length), field), as: UTF8.self) else {
                throw reader.failure("a \(field) is not UTF-8")
            }
            return text
        }
        let removedCount = try reader.integer(UInt32.self, "removed count")
        guard Int(removedCount) <= reader.remaining / 2 else { throw reader.failure("\(removedCount) removed paths cannot fit") }
        var removed: [String] = []
        removed.reserveCapacity(Int(removedCount))
        for _ in 0..<removedCount { removed.append(try path("removed path")) }
        let changeCount = try reader.integer(UInt32.self, "change count")
        guard Int(changeCount) <= reader.remaining / ManifestFormat.minimumEntryBytes else { throw reader.failure("\(changeCount) changes cannot fit") }
        var changes: [Change] = []
        changes.reserveCapacity(Int(changeCount))
        for _ in 0..<changeCount {
            switch try reader.integer(UInt8.self, "change kind") {
            case 1:
                changes.append(.entry(try MirrorEntry(decoding: &reader)))
            case 2:
                let path = try path("edited path")
                let mode = try reader.integer(UInt32.self, "mode")
                let modified = FileTime(seconds: try reader.integer(Int64.self, "seconds"), nanoseconds: try reader.integer(UInt32.self, "nanoseconds"))
                let prefix = try reader.integer(UInt32.self, "kept first chunks")
                let suffix = try reader.integer(UInt32.self, "kept last chunks")
                let count = try reader.integer(UInt32.self, "new chunk count")
                guard Int(count) <= reader.remaining / ManifestFormat.chunkBytes else { throw reader.failure("\(count) new chunks cannot fit") }
                var middle: [ChunkReference] = []
                middle.reserveCapacity(Int(count))
                for _ in 0..<count {
                    let length = try reader.integer(UInt32.self, "chunk length")
                    middle.append(ChunkReference(hash: try reader.hash("chunk hash"), length: length))
                }
                changes.append(.fileEdit(path: path, mode: mode, modified: modified, prefix: prefix, suffix: suffix, middle: middle))
            case let kind:
                throw reader.failure("unknown change kind \(kind)")
            }
        }
        guard reader.isAtEnd else { throw reader.failure("\(reader.remaining) bytes follow the last change") }
        self.init(removed: removed, changes: changes)
    }
}

extension MirrorManifest {
    /// The version `root` describes, rebuilt from `entries` (this node's version with a diff
    /// applied): paged as the publisher pages, then assembled and checked like fetched pages, so
    /// a wrong diff fails on the root's page hashes.
    package static func rebuild(root: ManifestRoot, entries: [MirrorEntry]) throws(MirrorError) -> MirrorManifest {
        let pages = ManifestPage.paginate(entries)
        return try assemble(root: root, pages: Dictionary(pages.map { ($0.hash, $0.bytes) }, uniquingKeysWith: { first, _ in first }))
    }
}
