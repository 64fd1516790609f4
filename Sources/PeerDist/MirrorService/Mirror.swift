import PeerDistHashing
import PeerDistMirror
import Synchronization

/// One mirror a node publishes or follows, as it stands: the newest version its directory
/// holds, where each of that version's chunks lies on disk (what the node serves from), and
/// what it is doing, for `mirror status`.
final class Mirror: Sendable {
    struct State {
        var manifest: MirrorManifest?
        /// The versions before it still in memory, newest last, so that followers on one of
        /// them are sent a diff rather than pages.
        var previous: [MirrorManifest] = []
        /// The sealed root served to peers; sealing it once per version, not per request.
        var sealedRoot: [UInt8]?
        var chunks: LocalChunkIndex?
        var activity = "idle"
        var peers = 0
        var pendingVersion: UInt64?
        var pendingBytes: UInt64 = 0
        var error: String?
        /// A publisher's last scan, so the next rehashes only changed files.
        var scanCache: ScanCache?
        /// A follower's record of what it wrote, so local changes are told from its own.
        var applied: AppliedTree?
    }

    let name: MirrorName
    let role: MirrorStatus.Role
    let directory: String
    let watching: Bool
    let state = PThreadMutex(State())
    static let previousVersionsKept = 4
    /// The last diff served and the versions it spans. Every follower of a new version asks for
    /// the same one, and each computation held two versions' entries side by side; it is made
    /// once, under this lock (not `state`'s, which serving chunks needs meanwhile).
    private let lastDiff = PThreadMutex<(from: UInt64, to: UInt64, encoded: [UInt8])?>(nil)

    init(name: MirrorName, role: MirrorStatus.Role, directory: String, watching: Bool) {
        self.name = name
        self.role = role
        self.directory = directory
        self.watching = watching
    }

    var record: MirrorRecord {
        MirrorRecord(name: name.description, role: role, directory: directory, watch: watching)
    }

    var version: UInt64 { state.withLock { $0.manifest?.version ?? 0 } }

    /// What changed in the entries from version `from` to `to`, encoded (`ManifestDiff`); `nil`
    /// unless `to` is the version served and `from` one still kept.
    func diff(from: UInt64, to: UInt64) -> [UInt8]? {
        lastDiff.withLock { cached in
            if let cached, cached.from == from, cached.to == to { return cached.encoded }
            let versions = state.withLock { state -> (old: MirrorManifest, new: MirrorManifest)? in
                guard let current = state.manifest, current.version == to,
                      let old = state.previous.first(where: { $0.version == from }) else { return nil }
                return (old, current)
            }
            guard let versions else { return nil }
            let encoded = ManifestDiff.between(versions.old.entries, versions.new.entries).encoded()
            cached = (from, to, encoded)
            return encoded
        }
    }

    /// Makes `manifest` the version the directory holds and serves.
    func install(_ manifest: MirrorManifest, chunks: LocalChunkIndex) {
        let sealed = SealedManifestRoot.seal(manifest.root.encoded(), for: name)
        state.withLock { state in
            if let old = state.manifest, old.version < manifest.version {
                state.previous.append(old)
                if state.previous.count > Self.previousVersionsKept { state.previous.removeFirst() }
            }
            state.manifest = manifest
            state.sealedRoot = sealed
            state.chunks = chunks
            state.pendingVersion = nil
            state.pendingBytes = 0
            state.error = nil
        }
    }

    func update(_ body: (inout State) -> Void) {
        state.withLock { body(&$0) }
    }

    var status: MirrorStatus {
        state.withLock { state in
            let entries = state.manifest?.entries ?? []
            return MirrorStatus(
                name: name.description, role: role, directory: directory, version: state.manifest?.version ?? 0,
                files: entries.count { if case .file = $0.kind { true } else { false } }, bytes: entries.reduce(0) { $0 + $1.size },
                peers: state.peers, pendingVersion: state.pendingVersion, pendingBytes: state.pendingBytes, state: state.activity,
                watching: watching, error: state.error)
        }
    }
}
