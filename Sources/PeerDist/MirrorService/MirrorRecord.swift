import Crypto
import Foundation
import PeerDistHashing
import PeerDistStore
import PeerDistMirror
import PeerDistWire

/// What a node keeps of each mirror in its data directory, so that a restarted node resumes
/// publishing or following: `mirrors/<name>/record.json` (role, directory, watch), `manifest`
/// (the newest version applied or published, root and pages) and `local` (the publisher's scan
/// cache or the follower's record of what it wrote, see `TreeScanner` and `MirrorUpdate`).
struct MirrorRecord: Codable, Sendable {
    var name: String
    var role: MirrorStatus.Role
    var directory: String
    var watch: Bool

    static func directory(for name: MirrorName, in data: DataDirectory) -> String {
        "\(data.path)/mirrors/\(name)"
    }

    /// Every record under the data directory; unreadable ones are skipped with their reason.
    static func loadAll(in data: DataDirectory) -> (records: [MirrorRecord], failures: [String]) {
        let root = "\(data.path)/mirrors"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return ([], []) }
        var records: [MirrorRecord] = []
        var failures: [String] = []
        for name in names.sorted() {
            let path = "\(root)/\(name)/\(MirrorFiles.File.record.rawValue)"
            do {
                records.append(try JSONDecoder().decode(MirrorRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path))))
            } catch {
                failures.append("\(path): \(error)")
            }
        }
        return (records, failures)
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(self))
    }
}

/// A manifest as kept on disk: `u32 root length ‖ root ‖ u32 page count ‖ (u32 length ‖ page)…`.
/// Read back, it is decoded and verified like one received from a peer.
enum StoredManifest {
    static func encode(_ manifest: MirrorManifest) -> [UInt8] {
        var bytes: [UInt8] = []
        func append(_ value: Int) { withUnsafeBytes(of: UInt32(value).bigEndian) { bytes += $0 } }
        let root = manifest.root.encoded()
        append(root.count)
        bytes += root
        let pages = manifest.pageHashes.compactMap { manifest.page($0) }
        append(pages.count)
        for page in pages {
            append(page.count)
            bytes += page
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8], name: MirrorName) throws -> MirrorManifest {
        var offset = 0
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - offset >= count else { throw NodeError(.invalidState, "the stored manifest of \(name) is truncated") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }
        func length() throws -> Int { Int(try take(4).reduce(0) { $0 << 8 | UInt32($1) }) }
        let root = try ManifestRoot(decoding: Array(try take(try length())), expecting: name)
        var pages: [HashValue: [UInt8]] = [:]
        for _ in 0..<(try length()) {
            let page = Array(try take(try length()))
            pages[HashValue(SHA256.hash(data: page))] = page
        }
        return try MirrorManifest.assemble(root: root, pages: pages)
    }
}

/// A follower's stamps as kept on disk (`local`): what each path it wrote looked like just after,
/// so that a later local change is told from its own writes. `"PDAS" ‖ format(1) ‖ version(8) ‖
/// count(4) ‖ (path ‖ stamp)…`, little-endian like the journal.
enum StoredStamps {
    static let magic = Array("PDAS".utf8)

    static func encode(_ applied: AppliedTree) -> [UInt8] {
        var writer = FieldWriter.mirrorFile()
        writer.append(raw: magic)
        writer.append(UInt8(1))
        writer.append(applied.version)
        // In the entries' order (sorted by path): the same bytes for the same tree, without
        // sorting tens of thousands of strings at every version.
        let stamped = applied.entries.compactMap { entry in applied.stamps[entry.path].map { (entry.path, $0) } }
        writer.append(UInt32(stamped.count))
        for (path, stamp) in stamped {
            writer.append(path)
            writer.append(stamp)
        }
        return writer.bytes
    }

    /// The applied tree of `manifest`'s entries with the stamps in `bytes`, which must be of the
    /// same version.
    static func decode(_ bytes: [UInt8], manifest: MirrorManifest, source: String) throws(MirrorError) -> AppliedTree {
        var reader = FieldReader.mirrorFile(bytes, source: source)
        guard Array(try reader.raw(4)) == magic, try reader.uint8() == 1 else { throw reader.corrupt("not a stamps file") }
        let version = try reader.uint64()
        guard version == manifest.version else { throw reader.corrupt("stamps of version \(version) beside manifest version \(manifest.version)") }
        let count = try reader.count(ofItemsAtLeast: 8)
        var stamps: [String: PathStamp] = [:]
        stamps.reserveCapacity(count)
        for _ in 0..<count {
            let path = try reader.string()
            stamps[path] = try reader.stamp()
        }
        return AppliedTree(version: version, entries: manifest.entries, stamps: stamps)
    }
}

/// The files a node keeps for one mirror under `mirrors/<name>/`, each replaced atomically.
struct MirrorFiles: Sendable {
    enum File: String {
        /// The mirror's `MirrorRecord`.
        case record = "record.json"
        /// The version the directory holds (a publisher: the newest it signed).
        case manifest
        /// A follower's version being applied, written before its commit begins.
        case next = "manifest.next"
        /// The follower's stamps, or the publisher's scan cache.
        case local
    }

    let directory: String

    init(name: MirrorName, data: DataDirectory) {
        directory = MirrorRecord.directory(for: name, in: data)
    }

    func path(_ file: File) -> String { "\(directory)/\(file.rawValue)" }

    func read(_ file: File) -> [UInt8]? {
        FileManager.default.contents(atPath: path(file)).map(Array.init)
    }

    func write(_ bytes: [UInt8], to file: File) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try AtomicFile.write(bytes, to: path(file))
    }

    func write(_ manifest: MirrorManifest, as file: File = .manifest) throws {
        try write(StoredManifest.encode(manifest), to: file)
    }

    func write(stamps applied: AppliedTree) throws {
        try write(StoredStamps.encode(applied), to: .local)
    }

    /// Makes the next manifest the current one.
    func promoteNext() throws {
        guard rename(path(.next), path(.manifest)) == 0 else { throw NodeError.system("cannot record \(path(.manifest))") }
    }

    func remove(_ file: File) {
        unlink(path(file))
    }
}
