import PeerDistMirror

/// One entry of a snapshot as `peerdist fetch ID --list` shows it, and the control socket carries it.
public struct TreeListingEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case file, directory, symlink
    }

    public var path: String
    public var kind: Kind
    /// Permission bits.
    public var mode: UInt32
    public var size: UInt64
    /// Modification time, seconds since 1970 and nanoseconds.
    public var modifiedSeconds: Int64
    public var modifiedNanoseconds: UInt32
    /// A link's target.
    public var target: String?

    enum CodingKeys: String, CodingKey {
        case path, kind, mode, size, target
        case modifiedSeconds = "modified_seconds"
        case modifiedNanoseconds = "modified_nanoseconds"
    }

    public init(_ entry: MirrorEntry) {
        path = entry.path
        mode = entry.mode
        size = entry.size
        modifiedSeconds = entry.modified.seconds
        modifiedNanoseconds = entry.modified.nanoseconds
        switch entry.kind {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink(let target):
            kind = .symlink
            self.target = target
        }
    }
}

/// What a snapshot holds, in short: for `publish DIR`'s reply.
public struct TreeSummary: Codable, Sendable, Equatable {
    public var files: Int
    public var directories: Int
    public var links: Int
    public var bytes: UInt64

    public init(files: Int, directories: Int, links: Int, bytes: UInt64) {
        self.files = files
        self.directories = directories
        self.links = links
        self.bytes = bytes
    }

    public init(_ published: MirrorService.PublishedSnapshot) {
        self.init(files: published.files, directories: published.directories, links: published.links, bytes: published.bytes)
    }
}
