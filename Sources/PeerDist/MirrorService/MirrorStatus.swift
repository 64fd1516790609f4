/// One mirror as `peerdist mirror status` shows it.
public struct MirrorStatus: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable {
        case publisher, follower
    }

    public var name: String
    public var role: Role
    public var directory: String
    /// The version the directory holds; 0 before the first one.
    public var version: UInt64
    public var files: Int
    public var bytes: UInt64
    /// Peers last seen holding the mirror.
    public var peers: Int
    /// For a follower: the newest version seen that is not applied yet, and the chunk bytes it
    /// still lacks.
    public var pendingVersion: UInt64?
    public var pendingBytes: UInt64
    /// What the mirror is doing: idle, scanning, fetching, applying, waiting.
    public var state: String
    public var watching: Bool
    /// The last failure, until the next success.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case name, role, directory, version, files, bytes, peers, state, watching, error
        case pendingVersion = "pending_version"
        case pendingBytes = "pending_bytes"
    }
}
