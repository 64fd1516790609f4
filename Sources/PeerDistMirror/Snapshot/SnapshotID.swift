import Crypto
import Foundation
import PeerDistHashing

/// The name of an immutable snapshot of a directory tree: the hash of its root record
/// (`SnapshotRoot`), which commits to every page, entry and chunk of the tree.
///
/// `ID = SHA-256("PeerDist snapshot ID v1" ‖ root bytes)`. Like a file's content ID it is the read
/// capability: it keys the sealed root on the wire, and only `discoveryKey`, from which neither
/// the ID nor the root can be had, is ever asked for on the LAN.
///
/// Printed `peerdist:tree:<base32>` (52 characters, as content IDs) or `tree:<64 hex digits>`; the
/// `tree:` tag keeps it from being taken for a file's content ID.
public struct SnapshotID: Hashable, Sendable, CustomStringConvertible, ManifestAddress {
    public static let tag = "tree"
    private static let domain = Array("PeerDist snapshot ID v1".utf8)
    private static let discoveryLabel = Array("PeerDist snapshot discovery key v1".utf8)
    private static let rootLabel = Array("PeerDist snapshot root key v1".utf8)

    public let value: HashValue

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        value = HashValue(bytes)
    }

    /// The ID of the root record `encodedRoot`.
    public init(ofRoot encodedRoot: [UInt8]) {
        var sha = SHA256()
        sha.update(data: Self.domain)
        sha.update(data: encodedRoot)
        value = HashValue(sha.finalize())
    }

    /// As a content ID, for its base32 form.
    private var asContentID: ContentID {
        guard let id = ContentID(bytes: value.bytes) else { preconditionFailure("a snapshot ID holds 32 bytes") }
        return id
    }

    public var hex: String { "\(Self.tag):\(value.hex)" }
    public var base32: String { asContentID.base32 }
    /// `peerdist:tree:<base32>`.
    public var uri: String { "\(ContentID.uriScheme):\(Self.tag):\(base32)" }
    public var description: String { uri }

    /// HMAC-SHA256 of the ID under a fixed label: what peers are asked for.
    public var discoveryKey: HashValue { derive(Self.discoveryLabel) }
    /// HMAC-SHA256 of the ID under another label: seals the root on the wire.
    public var rootKey: HashValue { derive(Self.rootLabel) }

    private func derive(_ label: [UInt8]) -> HashValue {
        HashValue(HMAC<SHA256>.authenticationCode(for: label, using: SymmetricKey(data: value.bytes)))
    }

    /// Parses `peerdist:tree:<base32>`, `tree:<base32>` or `tree:<hex>`; `nil` for anything else.
    public init?(parsing text: String) {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if body.lowercased().hasPrefix(ContentID.uriScheme + ":") { body = body.dropFirst(ContentID.uriScheme.count + 1) }
        guard body.lowercased().hasPrefix(Self.tag + ":") else { return nil }
        body = body.dropFirst(Self.tag.count + 1)
        guard body.count == 52 || body.count == 64, let id = ContentID(parsing: String(body)) else { return nil }
        value = id.value
    }
}

/// A snapshot, or one path in it: `ID` or `ID/PATH`, as `peerdist fetch` takes them.
public struct SnapshotReference: Hashable, Sendable {
    public var id: SnapshotID
    /// The path inside the snapshot, without a leading `/`; `nil` for the whole tree.
    public var path: String?

    public init(id: SnapshotID, path: String? = nil) {
        self.id = id
        self.path = path
    }

    /// `nil` when `text` does not start with a snapshot ID; a path after it is split off as given
    /// (empty components dropped), and checked against the manifest later.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let slash = trimmed.firstIndex(of: "/") else {
            guard let id = SnapshotID(parsing: trimmed) else { return nil }
            self.init(id: id)
            return
        }
        guard let id = SnapshotID(parsing: String(trimmed[..<slash])) else { return nil }
        let path = trimmed[trimmed.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        self.init(id: id, path: path.isEmpty ? nil : path)
    }
}
