import PeerDistHashing

/// The rules that make a manifest safe for a follower to apply to a directory: nothing it writes
/// lands outside the mirror's root or on the follower's own staging files, and every entry can be
/// created in order.
///
/// The publisher checks a tree with these before signing it and the follower checks every
/// manifest it assembles, since a signature says only who sent a manifest, not that it is sane.
/// Each broken rule is its own error naming the path:
///
/// - paths are relative, `/`-separated, at most 4096 bytes with components of at most 255, with no
///   empty, `.` or `..` component, no NUL and no component starting with `.peerdist-`;
/// - entries are strictly sorted by path bytes, so no two share a path;
/// - every entry's parent is a directory entry of the manifest (top-level entries have the root);
/// - modes are at most `0o7777`, nanoseconds below a second, chunks 1 byte to 128 KiB, files at
///   most 2^40 bytes and each entry small enough for a page;
/// - link targets are relative, non-empty, at most 4096 bytes, and resolved within the tree,
///   following the manifest's other links (at most 40), never go above the root.
package enum ManifestValidator {
    /// Checks `entries` and returns the total size of their files.
    @discardableResult
    package static func validate(_ entries: [MirrorEntry]) throws(MirrorError) -> UInt64 {
        guard entries.count <= ManifestFormat.maximumEntries else {
            throw MirrorError(.tooLarge, "\(entries.count) entries are more than the limit of \(ManifestFormat.maximumEntries)")
        }
        var paths: [PathBytes] = []
        paths.reserveCapacity(entries.count)
        var parents: [Int32] = []
        parents.reserveCapacity(entries.count)
        // Every path so far, to find parents; byte order puts a parent before its children.
        var indexByPath: [PathBytes: Int32] = [:]
        indexByPath.reserveCapacity(entries.count)
        var totalFileBytes: UInt64 = 0
        var hasLinks = false

        for (index, entry) in entries.enumerated() {
            let path = PathBytes(entry.path)
            if let problem = path.bytes.withUnsafeBufferPointer(pathProblem) {
                throw MirrorError(.unsafePath, path.bytes.isEmpty ? "an entry has an empty path" : "\(MirrorError.quoted(entry.path)) is not a safe path: \(problem)")
            }
            totalFileBytes += try checkFields(of: entry)
            if let previous = paths.last {
                guard path != previous else {
                    throw MirrorError(.collision, "\(MirrorError.quoted(entry.path)) appears twice: the names collide")
                }
                guard previous < path else {
                    throw MirrorError(.unsorted, "\(MirrorError.quoted(entry.path)) comes after \(MirrorError.quoted(entries[index - 1].path)): entries must be sorted by path bytes")
                }
            }
            parents.append(try parent(of: path.bytes, entry: entry, in: entries, indexByPath: indexByPath))
            indexByPath[path] = Int32(index)
            paths.append(path)
            if case .symlink = entry.kind { hasLinks = true }
        }

        if hasLinks {
            var resolver = LinkResolver(entries: entries, paths: paths, parents: parents)
            for index in entries.indices {
                if case .symlink = entries[index].kind {
                    _ = try resolver.resolve(Int32(index), depth: 1, checking: index)
                }
            }
        }
        return totalFileBytes
    }

    /// Why `path` is unsafe, or `nil`. One pass over the bytes, as it runs for every entry.
    private static func pathProblem(_ path: UnsafeBufferPointer<UInt8>) -> String? {
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        guard let first = path.first else { return "it is empty" }
        guard path.count <= ManifestFormat.maximumPathBytes else {
            return "it has \(path.count) bytes, more than \(ManifestFormat.maximumPathBytes)"
        }
        guard first != slash else { return "it is absolute" }
        var start = 0
        for end in 0...path.count {
            if end < path.count {
                if path[end] == 0 { return "it contains a NUL byte" }
                if path[end] != slash { continue }
            }
            let length = end - start
            if length == 0 { return "it has an empty component" }
            if length == 1, path[start] == dot { return "it has a '.' component" }
            if length == 2, path[start] == dot, path[start + 1] == dot { return "it has a '..' component" }
            if length > ManifestFormat.maximumComponentBytes {
                return "a component has \(length) bytes, more than \(ManifestFormat.maximumComponentBytes)"
            }
            if length >= reservedPrefix.count, reservedPrefix.indices.allSatisfy({ path[start + $0] == reservedPrefix[$0] }) {
                return "a component starts with \"\(ManifestFormat.reservedPrefix)\", which is reserved for the follower's staging files"
            }
            start = end + 1
        }
        return nil
    }

    /// Checks everything but the path and returns the file's size (0 for others).
    private static func checkFields(of entry: MirrorEntry) throws(MirrorError) -> UInt64 {
        // Quoted only when refusing: this runs for every entry.
        var path: String { MirrorError.quoted(entry.path) }
        guard entry.mode <= ManifestFormat.maximumMode else {
            throw MirrorError(.invalidEntry, "\(path) has mode 0o\(String(entry.mode, radix: 8)), beyond 0o7777")
        }
        guard entry.modified.nanoseconds < 1_000_000_000 else {
            throw MirrorError(.invalidEntry, "\(path) has a time with \(entry.modified.nanoseconds) nanoseconds, not less than a second")
        }
        guard entry.encodedByteCount <= ManifestFormat.maximumPageBytes else {
            throw MirrorError(.tooLarge, "\(path) has \(entry.chunks.count) chunks: its entry would not fit a \(ManifestFormat.maximumPageBytes)-byte manifest page")
        }
        switch entry.kind {
        case .file(let chunks):
            var size: UInt64 = 0
            for (index, chunk) in chunks.enumerated() {
                guard chunk.length >= 1, chunk.length <= UInt32(ManifestFormat.maximumChunkBytes) else {
                    throw MirrorError(.invalidEntry, "\(path): chunk \(index) has \(chunk.length) bytes, not 1 to \(ManifestFormat.maximumChunkBytes)")
                }
                guard chunk.hash.count == 32 else {
                    throw MirrorError(.invalidEntry, "\(path): chunk \(index) is named by \(chunk.hash.count) bytes, not a SHA-256 digest")
                }
                size += UInt64(chunk.length)
            }
            guard size <= ManifestFormat.maximumFileBytes else {
                throw MirrorError(.tooLarge, "\(path) has \(size) bytes, more than the limit of \(ManifestFormat.maximumFileBytes)")
            }
            return size
        case .directory:
            return 0
        case .symlink(let target):
            let bytes = target.utf8
            guard !bytes.isEmpty else { throw MirrorError(.invalidEntry, "\(path) is a symbolic link with an empty target") }
            guard bytes.count <= ManifestFormat.maximumLinkTargetBytes else {
                throw MirrorError(.invalidEntry, "\(path) is a symbolic link whose target has \(bytes.count) bytes, more than \(ManifestFormat.maximumLinkTargetBytes)")
            }
            guard !bytes.contains(0) else { throw MirrorError(.invalidEntry, "\(path) is a symbolic link whose target contains a NUL byte") }
            guard bytes.first != UInt8(ascii: "/") else {
                throw MirrorError(.unsafeSymlink, "\(path) is a symbolic link to an absolute path, \(MirrorError.quoted(target)), outside the mirror")
            }
            return 0
        }
    }

    /// The index of the directory entry holding `path`, or -1 for the root.
    private static func parent(of path: [UInt8], entry: MirrorEntry, in entries: [MirrorEntry], indexByPath: [PathBytes: Int32]) throws(MirrorError) -> Int32 {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return -1 }
        let parentPath = PathBytes(Array(path[..<slash]))
        func refuse(_ what: String) -> MirrorError {
            let shown = MirrorError.quoted(String(decoding: parentPath.bytes, as: UTF8.self))
            return MirrorError(.missingParent, "\(MirrorError.quoted(entry.path)) is in \(shown), which is \(what)")
        }
        guard let parent = indexByPath[parentPath] else { throw refuse("not a directory entry of the manifest") }
        switch entries[Int(parent)].kind {
        case .directory: return parent
        case .file: throw refuse("a file, not a directory")
        case .symlink: throw refuse("a symbolic link, not a directory")
        }
    }

    fileprivate static let dot: [UInt8] = [UInt8(ascii: ".")]
    fileprivate static let dotDot: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: ".")]
    private static let reservedPrefix: [UInt8] = Array(ManifestFormat.reservedPrefix.utf8)
}

/// Resolves link targets within the manifest's tree as the kernel would within the mirror's
/// directory: component by component from the link's directory, following the manifest's links
/// where they stand, so `..` after a link climbs from where the link leads, not from where it
/// is. (`d/b -> ..` with `l -> d/b/../..` escapes, though `d/b/../..` read as text does not.)
///
/// Where a component is not in the manifest the walk goes on below it as if it were a directory
/// nothing is known of; that can only refuse more, never less. Each link is resolved once and
/// remembered with the number of links its resolution followed.
private struct LinkResolver {
    /// A place in the tree: an entry (or -1, the root) and how many unknown components below it.
    struct Position {
        var node: Int32
        var unknownDepth: Int
    }

    struct ChildKey: Hashable {
        var parent: Int32
        var name: ArraySlice<UInt8>

        func hash(into hasher: inout Hasher) {
            hasher.combine(parent)
            name.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    let entries: [MirrorEntry]
    let parents: [Int32]
    private var children: [ChildKey: Int32] = [:]
    private var resolved: [Int32: (position: Position, hops: Int)] = [:]
    private var inProgress: Set<Int32> = []

    init(entries: [MirrorEntry], paths: [PathBytes], parents: [Int32]) {
        self.entries = entries
        self.parents = parents
        children.reserveCapacity(entries.count)
        for (index, path) in paths.enumerated() {
            let nameStart = path.bytes.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0
            children[ChildKey(parent: parents[index], name: path.bytes[nameStart...])] = Int32(index)
        }
    }

    /// Where `link` leads and how many links that took; throws when it goes above the root or
    /// takes more than 40 links. `origin` is the link being checked, for messages.
    mutating func resolve(_ link: Int32, depth: Int, checking origin: Int) throws(MirrorError) -> (position: Position, hops: Int) {
        if let known = resolved[link] { return known }
        // Each nested resolution follows at least one more link, so depth bounds the recursion.
        guard depth <= ManifestFormat.maximumLinkHops, !inProgress.contains(link) else { throw tooManyHops(origin) }
        guard case .symlink(let target) = entries[Int(link)].kind else {
            preconditionFailure("only links are resolved")
        }
        inProgress.insert(link)
        defer { inProgress.remove(link) }

        var position = Position(node: parents[Int(link)], unknownDepth: 0)
        var hops = 1
        for component in Array(target.utf8).split(separator: UInt8(ascii: "/")) {
            if component.elementsEqual(ManifestValidator.dot) { continue }
            if component.elementsEqual(ManifestValidator.dotDot) {
                if position.unknownDepth > 0 {
                    position.unknownDepth -= 1
                } else if position.node < 0 {
                    throw escapes(origin, through: Int(link))
                } else {
                    position.node = parents[Int(position.node)]
                }
                continue
            }
            guard position.unknownDepth == 0, let child = children[ChildKey(parent: position.node, name: component)] else {
                position.unknownDepth += 1
                continue
            }
            if case .symlink = entries[Int(child)].kind {
                let followed = try resolve(child, depth: depth + 1, checking: origin)
                hops += followed.hops
                guard hops <= ManifestFormat.maximumLinkHops else { throw tooManyHops(origin) }
                position = followed.position
            } else {
                position = Position(node: child, unknownDepth: 0)
            }
        }
        resolved[link] = (position, hops)
        return (position, hops)
    }

    private func escapes(_ origin: Int, through link: Int) -> MirrorError {
        let entry = entries[origin]
        guard case .symlink(let target) = entry.kind else { preconditionFailure("only links are resolved") }
        var message = "\(MirrorError.quoted(entry.path)) -> \(MirrorError.quoted(target)) leads out of the mirror"
        if link != origin, case .symlink(let through) = entries[link].kind {
            message += ": it goes above the root at \(MirrorError.quoted(entries[link].path)) -> \(MirrorError.quoted(through))"
        }
        return MirrorError(.unsafeSymlink, message)
    }

    private func tooManyHops(_ origin: Int) -> MirrorError {
        MirrorError(
            .unsafeSymlink,
            "\(MirrorError.quoted(entries[origin].path)) does not resolve within \(ManifestFormat.maximumLinkHops) symbolic links: it loops or chains too deep")
    }
}
