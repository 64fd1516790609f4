import Foundation
import PeerDistHashing
import Synchronization

/// The files an origin serves: paths under its directory (never outside, whatever the request
/// spells), and their Content Information, hashed once and kept until the file changes.
public final class OriginFiles: Sendable {
    /// The directory, symbolic links resolved.
    public let root: String
    /// The server secret; `nil` for content-addressed segment secrets, which give the segment IDs
    /// every PeerDist node derives for the same bytes.
    let secret: ServerSecret?
    private let cache = PThreadMutex<[String: (stamp: Stamp, version: Int, information: [UInt8])]>([:])

    struct Stamp: Hashable {
        var size: UInt64
        var modified: Int64
        var inode: UInt64
    }

    public init(directory: String, secret: ServerSecret?) throws {
        guard let resolved = realpath(directory, nil) else {
            throw BranchCacheError(.notFound, "\(directory): no such directory")
        }
        defer { free(resolved) }
        root = String(cString: resolved)
        self.secret = secret
    }

    /// The file a request path names: percent-decoded, no `..`, inside the directory once symbolic
    /// links are resolved, and a regular file. `nil` for anything else.
    public func resolve(_ uri: String) -> (path: String, size: UInt64)? {
        let rawPath = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard rawPath.hasPrefix("/"), let decoded = rawPath.removingPercentEncoding, !decoded.contains("\0") else { return nil }
        var components: [Substring] = []
        for component in decoded.split(separator: "/") where component != "." {
            guard component != ".." else { return nil }
            components.append(component)
        }
        guard !components.isEmpty else { return nil }
        let joined = root + "/" + components.joined(separator: "/")
        guard let resolved = realpath(joined, nil) else { return nil }
        defer { free(resolved) }
        let path = String(cString: resolved)
        guard path.hasPrefix(root + "/") else { return nil }
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        return (path, UInt64(status.st_size))
    }

    /// The file's Content Information in `version`, hashed now unless the file is unchanged since
    /// it was last hashed. Blocks for as long as hashing takes: call it off the event loops.
    public func contentInformation(of path: String, version: Int) throws -> [UInt8] {
        var status = stat()
        guard stat(path, &status) == 0 else { throw BranchCacheError(.notFound, "\(path): gone") }
        let stamp = Self.stamp(status)
        let key = "\(version):\(path)"
        if let cached = cache.withLock({ $0[key] }), cached.stamp == stamp { return cached.information }
        let hashed = try FileHasher(version: version == 2 ? .v2 : .v1).hash(path: path)
        let information = ContentInformation(hashed: hashed, secret: secret ?? ContentID(hashed).serverSecret).encoded()
        // Kept only if the file did not change while it was hashed; either way the next request
        // looks again.
        var after = stat()
        if stat(path, &after) == 0, Self.stamp(after) == stamp {
            cache.withLock { $0[key] = (stamp, version, information) }
        }
        return information
    }

    private static func stamp(_ status: stat) -> Stamp {
        Stamp(
            size: UInt64(status.st_size), modified: Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec),
            inode: UInt64(status.st_ino))
    }
}
