import Crypto
import Foundation
import PeerDistHashing
import PeerDistMirror
import PeerDistStore

/// A snapshot this node holds in full, and so serves: one it published (its directory, read in
/// place) or one it fetched (the tree it wrote). Immutable: its manifest never changes, and a
/// chunk whose file changed since is found stale by the index and answered `notHeld`.
final class Snapshot: Sendable {
    let manifest: SnapshotManifest
    let directory: String
    let role: SnapshotRecord.Role
    /// The root sealed for the wire, once.
    let sealedRoot: [UInt8]
    let chunks: LocalChunkIndex

    init(manifest: SnapshotManifest, directory: String, role: SnapshotRecord.Role, chunks: LocalChunkIndex) {
        self.manifest = manifest
        self.directory = directory
        self.role = role
        self.chunks = chunks
        sealedRoot = SealedManifestRoot.seal(manifest.root.encoded(), for: manifest.id)
    }

    var id: SnapshotID { manifest.id }

    var record: SnapshotRecord {
        SnapshotRecord(id: id.hex, directory: directory, role: role)
    }
}

/// What a node keeps of each snapshot it holds, under `snapshots/<ID hex>/` in its data directory:
/// `record.json` (where the tree is, and whether the node published or fetched it) and `manifest`
/// (root and pages, read back and checked against the ID like a manifest from a peer).
struct SnapshotRecord: Codable, Sendable {
    enum Role: String, Codable, Sendable {
        case published, fetched
    }

    var id: String
    var directory: String
    var role: Role

    static let recordFile = "record.json"
    static let manifestFile = "manifest"

    static func folder(for id: SnapshotID, in data: DataDirectory) -> String {
        "\(data.path)/snapshots/\(id.value.hex)"
    }

    /// Every snapshot recorded under the data directory; unreadable ones are skipped with their reason.
    static func loadAll(in data: DataDirectory) -> (snapshots: [(SnapshotRecord, SnapshotManifest)], failures: [String]) {
        let root = "\(data.path)/snapshots"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return ([], []) }
        var loaded: [(SnapshotRecord, SnapshotManifest)] = []
        var failures: [String] = []
        for name in names.sorted() {
            let folder = "\(root)/\(name)"
            do {
                let record = try JSONDecoder().decode(SnapshotRecord.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(recordFile)")))
                guard let id = SnapshotID(parsing: record.id) else { throw NodeError(.invalidState, "\(record.id) is not a snapshot ID") }
                let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(manifestFile)")))
                loaded.append((record, try decodeManifest(bytes, id: id)))
            } catch {
                failures.append("\(folder): \(error)")
            }
        }
        return (loaded, failures)
    }

    /// Records `snapshot`, manifest first: a record without its manifest is never left.
    static func save(_ snapshot: Snapshot, in data: DataDirectory) throws {
        let folder = folder(for: snapshot.id, in: data)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try AtomicFile.write(encodeManifest(snapshot.manifest), to: "\(folder)/\(manifestFile)")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(snapshot.record)), to: "\(folder)/\(recordFile)")
    }

    static func remove(_ id: SnapshotID, in data: DataDirectory) {
        try? FileManager.default.removeItem(atPath: folder(for: id, in: data))
    }

    /// `u32 root length ‖ root ‖ u32 page count ‖ (u32 length ‖ page)…`, as a mirror's manifest.
    static func encodeManifest(_ manifest: SnapshotManifest) -> [UInt8] {
        var bytes: [UInt8] = []
        func append(_ value: Int) { withUnsafeBytes(of: UInt32(value).bigEndian) { bytes += $0 } }
        let root = manifest.root.encoded()
        append(root.count)
        bytes += root
        append(manifest.pages.count)
        for page in manifest.pages {
            append(page.bytes.count)
            bytes += page.bytes
        }
        return bytes
    }

    static func decodeManifest(_ bytes: [UInt8], id: SnapshotID) throws -> SnapshotManifest {
        var offset = 0
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - offset >= count else { throw NodeError(.invalidState, "the stored manifest of snapshot \(id) is truncated") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }
        func length() throws -> Int { Int(try take(4).reduce(0) { $0 << 8 | UInt32($1) }) }
        let root = try SnapshotRoot(decoding: Array(try take(try length())), expecting: id)
        var pages: [HashValue: [UInt8]] = [:]
        for _ in 0..<(try length()) {
            let page = Array(try take(try length()))
            pages[HashValue(SHA256.hash(data: page))] = page
        }
        return try SnapshotManifest.assemble(root: root, pages: pages)
    }
}
