/// Opens directories of a tree by relative path (`a/b/c`), one `O_NOFOLLOW` component at a time
/// from the root's descriptor, keeping recently opened ones: entries are handled in path order,
/// so neighbours share their parents and most lookups cost one `fstatat`.
///
/// Whoever renames or removes a directory must call `forget(_:)` for it, or a kept handle would
/// still lead into the directory under its new name. Not thread-safe: one per operation.
final class TreeWalker {
    let root: DirectoryHandle
    private var opened: [String: DirectoryHandle] = [:]
    /// Directories found missing, kept only by a walker that only looks: a first mirror's plan
    /// asks after every path of a tree none of which exists yet.
    private var absent: Set<String> = []
    private let remembersAbsence: Bool
    /// Enough for any sane depth; past it the cache starts over rather than tracking use.
    private static let capacity = 256
    private static let absentCapacity = 4_096

    /// - Parameter onlyLooking: the caller changes nothing on disk while it uses this walker, so
    ///   a directory found missing is remembered as missing.
    init(root: DirectoryHandle, onlyLooking: Bool = false) {
        self.root = root
        self.remembersAbsence = onlyLooking
    }

    /// The directory at `path` ("" for the root), or nil when a component is absent or is not a
    /// real directory.
    func directory(_ path: String) throws(MirrorError) -> DirectoryHandle? {
        if path.isEmpty { return root }
        if let handle = opened[path] { return handle }
        if remembersAbsence, absent.contains(path) { return nil }
        let (parentPath, name) = Self.split(path)
        guard let parent = try directory(parentPath), let handle = try parent.openDirectory(name) else {
            if remembersAbsence {
                if absent.count >= Self.absentCapacity { absent.removeAll(keepingCapacity: true) }
                absent.insert(path)
            }
            return nil
        }
        if opened.count >= Self.capacity { opened.removeAll(keepingCapacity: true) }
        opened[path] = handle
        return handle
    }

    /// `lstat` of `path`; nil when it, or a directory on the way to it, is absent or not a real
    /// directory.
    func status(_ path: String) throws(MirrorError) -> PathStatus? {
        let (parentPath, name) = Self.split(path)
        guard let parent = try directory(parentPath) else { return nil }
        return try parent.status(name)
    }

    /// Drops kept handles of `path` and everything below it, after it was renamed or removed.
    func forget(_ path: String) {
        precondition(!remembersAbsence, "a walker that only looks is told of no change")
        let prefix = path + "/"
        opened = opened.filter { key, _ in key != path && !key.hasPrefix(prefix) }
    }

    /// A relative path's parent ("" at the top) and last component.
    static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("", path) }
        return (String(path[..<slash]), String(path[path.utf8.index(after: slash)...]))
    }
}
