#if canImport(Glibc)
import Glibc
#endif

/// Makes a journal's operations on a follower's tree, for a commit and again for a recovery.
///
/// Each operation may be repeated after a crash at any point, and checks what is on disk first:
/// - a staged file or link that is no longer in the staging directory was placed already;
/// - a directory is kept when one is there;
/// - a path is replaced or removed only while it is still the applied version's (its stamp
///   matches); anything else there — a local edit, a new local file, a directory that became a
///   link, a directory holding local files — is renamed aside to
///   `NAME.peerdist-conflict-<version>` (then `…-<version>-2`, …) in the same directory, never
///   deleted and never followed.
///
/// Parents are reached from the root one `O_NOFOLLOW` component at a time; one that is not a real
/// directory when a path below it is needed is moved aside and made again.
final class JournalRunner {
    private let walker: TreeWalker
    private let staging: DirectoryHandle?
    private let version: UInt64
    /// Paths moved aside so far: where they were, and their new names.
    private(set) var movedAside: [MovedAside] = []
    /// Directories whose entries changed, to be flushed.
    private var touched: Set<String> = []

    /// Whether the operations may have been made before (a recovery), rather than for the first
    /// time (a commit, which made every staged file and link it names).
    private let isRecovery: Bool

    init(root: DirectoryHandle, staging: DirectoryHandle?, version: UInt64, isRecovery: Bool) {
        walker = TreeWalker(root: root)
        self.staging = staging
        self.version = version
        self.isRecovery = isRecovery
    }

    /// Makes `operations` in order; with `limit`, stops after that many and throws, as if the
    /// process had died there (for tests of recovery).
    func run(_ operations: [JournalOperation], stoppingAfter limit: Int? = nil) throws(MirrorError) {
        for (done, operation) in operations.enumerated() {
            if let limit, done >= limit {
                throw MirrorError(.invalidState, "\(walker.root.path): commit stopped after \(limit) of \(operations.count) operations")
            }
            switch operation {
            case .makeDirectory(let path, let replacing):
                try makeDirectory(path, replacing: replacing)
            case .place(let staged, let path, let replacing):
                try place(staged, at: path, replacing: replacing)
            case .remove(let path, let expected):
                try remove(path, expected: expected)
            case .setDirectoryAttributes(let path, let mode, let modified):
                // Absent only if removed locally during the commit; nothing to set then.
                try walker.directory(path)?.setAttributes(mode: mode, modified: modified)
            }
        }
    }

    /// Flushes every directory whose entries changed, so the changes survive a crash before the
    /// journal is removed.
    func syncTouchedDirectories() throws(MirrorError) {
        for path in touched {
            try walker.directory(path)?.sync()
        }
        staging?.sync()
    }

    private func makeDirectory(_ path: String, replacing expected: PathStamp?) throws(MirrorError) {
        let (parentPath, name) = TreeWalker.split(path)
        let parent = try ensureDirectory(parentPath)
        if let current = try parent.status(name) {
            if current.kind == .directory { return }
            try clear(name, in: parent, path: path, current: current, expected: expected)
        }
        try parent.makeDirectory(name, mode: 0o700)
        touched.insert(parentPath)
    }

    private func place(_ staged: String, at path: String, replacing expected: PathStamp?) throws(MirrorError) {
        guard let staging else { return }
        if isRecovery, try staging.status(staged) == nil { return }
        let (parentPath, name) = TreeWalker.split(path)
        let parent = try ensureDirectory(parentPath)
        // Nothing in the way (every path of a first mirror): one call, no look first.
        if try staging.renameIfAbsent(staged, to: parent, as: name) {
            touched.insert(parentPath)
            return
        }
        if let current = try parent.status(name) {
            // The applied version's file or link is replaced by the rename itself, so readers see
            // the old or the new one and never neither; anything else makes room first.
            let replaceable = current.kind != .directory && expected.map { current.stamp.isSameVersion(as: $0) } == true
            if !replaceable {
                try clear(name, in: parent, path: path, current: current, expected: expected)
            }
        }
        try staging.rename(staged, to: parent, as: name)
        touched.insert(parentPath)
    }

    private func remove(_ path: String, expected: PathStamp?) throws(MirrorError) {
        let (parentPath, name) = TreeWalker.split(path)
        guard let parent = try walker.directory(parentPath), let current = try parent.status(name) else { return }
        try clear(name, in: parent, path: path, current: current, expected: expected)
    }

    /// Frees `name`: removes it when it is the applied version's (`expected`), an empty directory
    /// included; otherwise moves it aside.
    private func clear(_ name: String, in parent: DirectoryHandle, path: String, current: PathStatus, expected: PathStamp?) throws(MirrorError) {
        let (parentPath, _) = TreeWalker.split(path)
        if let expected, current.stamp.isSameVersion(as: expected) {
            if current.kind != .directory {
                try parent.removeFile(name)
                touched.insert(parentPath)
                return
            }
            do throws(MirrorError) {
                try parent.removeDirectory(name)
                walker.forget(path)
                touched.insert(parentPath)
                return
            } catch where error.hasErrno(ENOTEMPTY) || error.hasErrno(EEXIST) {
                // Files the applied version never had are inside: keep them, with their directory.
            }
        }
        try moveAside(name, in: parent, path: path)
    }

    private func moveAside(_ name: String, in parent: DirectoryHandle, path: String) throws(MirrorError) {
        let (parentPath, _) = TreeWalker.split(path)
        var attempt = 1
        while true {
            let candidate = ConflictName.make(for: name, version: version, attempt: attempt)
            if try parent.status(candidate) == nil {
                try parent.rename(name, to: parent, as: candidate)
                walker.forget(path)
                touched.insert(parentPath)
                movedAside.append(MovedAside(path: path, movedTo: parentPath.isEmpty ? candidate : "\(parentPath)/\(candidate)"))
                return
            }
            attempt += 1
        }
    }

    /// The directory at `path`, made (and whatever stands in its way moved aside) if needed.
    private func ensureDirectory(_ path: String) throws(MirrorError) -> DirectoryHandle {
        if let directory = try walker.directory(path) { return directory }
        let (parentPath, name) = TreeWalker.split(path)
        let parent = try ensureDirectory(parentPath)
        if let current = try parent.status(name), current.kind != .directory {
            try moveAside(name, in: parent, path: path)
        }
        do throws(MirrorError) {
            try parent.makeDirectory(name, mode: 0o700)
            touched.insert(parentPath)
        } catch where error.hasErrno(EEXIST) {
            // Made by someone else meanwhile; opened below like any other.
        }
        guard let directory = try walker.directory(path) else {
            throw MirrorError(.io, "\(parent.display(name)): not a directory after making it one")
        }
        return directory
    }
}

/// A path that held a local change, and the name it was moved to so the change is not lost.
public struct MovedAside: Hashable, Sendable {
    /// Where it was, relative to the root.
    public var path: String
    /// Where it is now, in the same directory.
    public var movedTo: String

    public init(path: String, movedTo: String) {
        self.path = path
        self.movedTo = movedTo
    }
}

/// Names for local changes moved out of a new version's way.
enum ConflictName {
    /// `NAME.peerdist-conflict-<version>`, then `-2`, `-3`, … for later attempts; `NAME` is
    /// shortened (never splitting a character) so the result fits in 255 bytes.
    static func make(for name: String, version: UInt64, attempt: Int) -> String {
        let suffix = "\(MirrorNames.conflictInfix)\(version)" + (attempt > 1 ? "-\(attempt)" : "")
        var base = Substring(name)
        while base.utf8.count + suffix.utf8.count > 255, !base.isEmpty { base.removeLast() }
        return base + suffix
    }
}
