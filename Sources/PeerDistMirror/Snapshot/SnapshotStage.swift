import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Materialises a snapshot (or one file of it) at a destination that is never seen half-written:
/// everything is built in a staging directory beside the destination, by a `MirrorUpdate` from
/// nothing to the snapshot's entries (the same staged files, checks and `O_NOFOLLOW` writes a
/// mirror follower uses), and renamed to the destination once complete.
///
/// The staging directory, `.<name>.peerdist-tree-<ID prefix>` in the destination's parent, stays
/// when the process is killed. The next stage of the same snapshot at the same place moves the
/// update's staged files aside (`.peerdist-resume-N`), reads back every chunk in them that still
/// matches its hash, and fetches only the rest: an interrupted fetch resumes. A commit that was
/// interrupted is finished by `MirrorUpdate.recover`; one that finished is marked
/// (`.peerdist-complete`) and only renamed into place.
public final class SnapshotStage: Sendable {
    /// What ends up at the destination.
    public enum Placement: Sendable {
        /// The whole tree is the destination directory.
        case tree
        /// The single file at `path` in the snapshot is the destination file.
        case file(String)
    }

    static let resumePrefix = ".peerdist-resume-"
    static let completeMarker = ".peerdist-complete"
    static let singleFileName = "file"

    public let destination: String
    public let stagingDirectory: String
    /// The update that fills the staging directory; `nil` once a complete stage was found.
    public let update: MirrorUpdate?
    private let placement: Placement
    private let replacing: Bool
    private let parent: DirectoryHandle
    private let stagingName: String

    /// Opens (or resumes) the stage of `entries` (a validated snapshot's, or the one file entry for
    /// `.file`) for `destination`, whose parent must exist. Refuses an existing destination
    /// unless `replacing`.
    public init(destination: String, id: SnapshotID, entries: [MirrorEntry], placement: Placement, replacing: Bool) throws(MirrorError) {
        let (parentPath, name) = Self.split(destination)
        let parent = try DirectoryHandle.open(root: parentPath)
        if !replacing, try parent.status(name) != nil {
            throw MirrorError(.invalidState, "\(destination) already exists (remove it, choose another -o, or pass --force)")
        }
        let kind: String
        let staged: [MirrorEntry]
        switch placement {
        case .tree:
            kind = "tree"
            staged = entries
        case .file(let path):
            kind = "file"
            guard let entry = entries.first(where: { $0.path == path }), case .file = entry.kind else {
                throw MirrorError(.notFound, "snapshot \(id) has no file \(MirrorError.quoted(path))")
            }
            staged = [MirrorEntry(path: Self.singleFileName, kind: entry.kind, mode: entry.mode, modified: entry.modified)]
        }
        stagingName = ".\(name.utf8.count > 100 ? String(decoding: name.utf8.prefix(100), as: UTF8.self) : name).peerdist-\(kind)-\(id.value.hex.prefix(16))"
        self.destination = destination
        self.stagingDirectory = parent.display(stagingName)
        self.placement = placement
        self.replacing = replacing
        self.parent = parent

        if try parent.status(stagingName) == nil { try parent.makeDirectory(stagingName, mode: 0o700) }
        guard let root = try parent.openDirectory(stagingName) else {
            throw MirrorError(.invalidState, "\(stagingDirectory) is in the way and not a directory")
        }
        if try root.status(Self.completeMarker) != nil {
            update = nil
            return
        }
        // A killed update's staged files hold the chunks it had: keep them to read back.
        let hasJournal = try root.status(MirrorNames.journal) != nil
        let resumed = try Self.resumeDirectories(in: root)
        if !hasJournal, try root.status(MirrorNames.staging) != nil {
            try root.rename(MirrorNames.staging, to: root, as: Self.resumePrefix + "\(resumed.count)")
        }
        if case .rolledForward = try MirrorUpdate.recover(directory: stagingDirectory) {
            try Self.markComplete(root)
            update = nil
            return
        }
        let resumeDirectories = try Self.resumeDirectories(in: root)
        // Staged files are named f0, f1, … in the order of the files among the entries (an update
        // from nothing stages every file), so an earlier attempt's f3 holds this one's f3.
        let files = staged.filter { if case .file = $0.kind { true } else { false } }
        var held: [MirrorEntry] = []
        for directory in resumeDirectories {
            for (index, file) in files.enumerated() {
                held.append(MirrorEntry(path: "\(directory)/f\(index)", kind: file.kind, mode: file.mode, modified: file.modified))
            }
        }
        let index = try LocalChunkIndex(root: stagingDirectory, entries: held)
        let update = try MirrorUpdate.prepare(directory: stagingDirectory, from: .empty, to: staged, version: 1, index: index)
        // Every chunk they held that still checks out is in the new staged files now.
        index.closeKeptFiles()
        for directory in resumeDirectories { try root.removeTree(directory) }
        self.update = update
    }

    /// Whether an earlier run left a stage that needs only its rename.
    public var isComplete: Bool { update == nil }

    /// Commits the staged tree (every chunk must be in) and renames it into place; with
    /// `replacing`, an existing destination is renamed aside first and removed after.
    public func finish() throws(MirrorError) {
        guard let root = try parent.openDirectory(stagingName) else {
            throw MirrorError(.invalidState, "\(stagingDirectory) vanished before it was complete")
        }
        if let update {
            _ = try update.commit { _ in try Self.markComplete(root) }
        }
        try root.removeFile(Self.completeMarker)
        let (_, name) = Self.split(destination)
        let aside = stagingName + ".old"
        let hadDestination = try parent.status(name) != nil
        if hadDestination {
            guard replacing else { throw MirrorError(.invalidState, "\(destination) appeared while it was being fetched") }
            try parent.removeTree(aside)
            try parent.rename(name, to: parent, as: aside)
        }
        switch placement {
        case .tree:
            var mask = umask(0)
            umask(mask)
            mask = mask & 0o777
            try root.setAttributes(mode: 0o777 & ~UInt32(mask), modified: FileTime.now())
            try parent.rename(stagingName, to: parent, as: name)
        case .file:
            try root.rename(Self.singleFileName, to: parent, as: name)
            try parent.removeTree(stagingName)
        }
        if hadDestination { try parent.removeTree(aside) }
        parent.sync()
    }

    /// Removes the staging directory and all it holds (a refused fetch leaves nothing behind).
    public func discard() {
        update?.abandon()
        try? parent.removeTree(stagingName)
    }

    private static func markComplete(_ root: DirectoryHandle) throws(MirrorError) {
        let file = try root.openFile(completeMarker, flags: O_WRONLY | O_CREAT, mode: 0o600)
        try file.sync()
        root.sync()
    }

    private static func resumeDirectories(in root: DirectoryHandle) throws(MirrorError) -> [String] {
        try root.names().map { String(decoding: $0, as: UTF8.self) }.filter { $0.hasPrefix(resumePrefix) }.sorted()
    }

    static func split(_ path: String) -> (parent: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let parent = trimmed[..<slash]
        return (parent.isEmpty ? "/" : String(parent), String(trimmed[trimmed.index(after: slash)...]))
    }
}
