/// What an update has to do, decided from the applied version, the new one and what is on disk:
/// which files and links to build in staging, and the journal's operations in the order a commit
/// makes them.
///
/// Order of operations:
/// 1. paths the new version drops below a path that stops being a directory, deepest first, so
///    that directory is empty when a file or link takes its place;
/// 2. new directories, parents first;
/// 3. staged files and links renamed into place;
/// 4. the other dropped paths, deepest first (a reader sees a moved file at both names for a
///    moment, never at neither);
/// 5. directory modes and times, deepest first, once nothing inside them changes.
struct UpdatePlan {
    struct StagedFile {
        var entry: MirrorEntry
        /// Its name in the staging directory.
        var name: String
        /// Its path relative to the tree's root, made once: every chunk placed in it is indexed
        /// at this path.
        var stagingPath: String

        init(entry: MirrorEntry, name: String) {
            self.entry = entry
            self.name = name
            stagingPath = "\(MirrorNames.staging)/\(name)"
        }
    }

    var stagedFiles: [StagedFile] = []
    var stagedLinks: [StagedFile] = []
    var operations: [JournalOperation] = []
    /// Paths of the new version left exactly as they are: their applied stamps carry over, so a
    /// local change made during the update is still noticed by the next one.
    var untouched: Set<String> = []

    init(applied: AppliedTree, target: [MirrorEntry], walker: TreeWalker) throws(MirrorError) {
        let previous = Dictionary(applied.entries.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let next = Dictionary(target.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var makeDirectories: [JournalOperation] = []
        var places: [JournalOperation] = []
        /// Directories that need their attributes set at the end.
        var settle: Set<String> = []
        /// Directories whose entries the commit changes (their times move).
        var changedParents: Set<String> = []

        for entry in target {
            let path = entry.path
            let disk = try walker.status(path)
            let replacing = previous[path] != nil ? applied.stamps[path] : nil
            switch entry.kind {
            case .directory:
                if disk?.kind != .directory {
                    makeDirectories.append(.makeDirectory(path: path, replacing: replacing))
                    changedParents.insert(TreeWalker.split(path).parent)
                    settle.insert(path)
                } else if disk?.mode != entry.mode || disk?.modified != entry.modified {
                    settle.insert(path)
                }
            case .file:
                if let before = previous[path], before == entry, let stamp = applied.stamps[path],
                   let disk, disk.stamp.isSameVersion(as: stamp) {
                    untouched.insert(path)
                    continue
                }
                let name = "f\(stagedFiles.count)"
                stagedFiles.append(StagedFile(entry: entry, name: name))
                places.append(.place(staged: name, path: path, replacing: replacing))
                changedParents.insert(TreeWalker.split(path).parent)
            case .symlink(let target):
                // A link holds nothing but its target: one that already has the right target and
                // time is kept whoever made it.
                if let disk, disk.kind == .symlink, disk.modified == entry.modified,
                   try Self.linkTarget(path, walker: walker) == Array(target.utf8) {
                    untouched.insert(path)
                    continue
                }
                let name = "l\(stagedLinks.count)"
                stagedLinks.append(StagedFile(entry: entry, name: name))
                places.append(.place(staged: name, path: path, replacing: replacing))
                changedParents.insert(TreeWalker.split(path).parent)
            }
        }

        var beforePlacing: [JournalOperation] = []
        var afterPlacing: [JournalOperation] = []
        for entry in applied.entries where next[entry.path] == nil {
            guard try walker.status(entry.path) != nil else { continue }
            let removal = JournalOperation.remove(path: entry.path, expected: applied.stamps[entry.path])
            if Self.hasNonDirectoryAncestor(entry.path, in: next) {
                beforePlacing.append(removal)
            } else {
                afterPlacing.append(removal)
            }
            changedParents.insert(TreeWalker.split(entry.path).parent)
        }

        settle.formUnion(changedParents)
        let attributes: [JournalOperation] = target.compactMap { entry in
            guard entry.kind == .directory, settle.contains(entry.path) else { return nil }
            return .setDirectoryAttributes(path: entry.path, mode: entry.mode, modified: entry.modified)
        }

        operations = Self.deepestFirst(beforePlacing) + makeDirectories + places
            + Self.deepestFirst(afterPlacing) + Self.deepestFirst(attributes)
    }

    private static func linkTarget(_ path: String, walker: TreeWalker) throws(MirrorError) -> [UInt8]? {
        let (parentPath, name) = TreeWalker.split(path)
        return try walker.directory(parentPath)?.readLink(name)
    }

    /// Whether a directory above `path` is a file or link in `entries`.
    private static func hasNonDirectoryAncestor(_ path: String, in entries: [String: MirrorEntry]) -> Bool {
        var current = TreeWalker.split(path).parent
        while !current.isEmpty {
            if let entry = entries[current], entry.kind != .directory { return true }
            current = TreeWalker.split(current).parent
        }
        return false
    }

    private static func deepestFirst(_ operations: [JournalOperation]) -> [JournalOperation] {
        func depth(_ operation: JournalOperation) -> Int {
            operation.path.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) }
        }
        // Stable in path order among equals, so a plan does not depend on dictionary order.
        return operations.enumerated().sorted { left, right in
            let (leftDepth, rightDepth) = (depth(left.element), depth(right.element))
            return leftDepth != rightDepth ? leftDepth > rightDepth : left.offset < right.offset
        }.map(\.element)
    }
}
