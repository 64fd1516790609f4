import Crypto
import PeerDistHashing

#if canImport(Glibc)
import Glibc
import PeerDistWire
#endif

/// The list of changes that turn a follower's tree into a new version, written to
/// `DIR/.peerdist-journal` before the first of them is made.
///
/// Every staged file is complete and durable before the journal is written, and every operation
/// can be repeated (`JournalRunner` explains how), so after a crash `MirrorUpdate.recover`
/// runs the whole list again and the tree ends on the new version, never on a mixture.
///
/// The encoding (little-endian): the magic `PDMJ`, a format byte (1), the version (u64), an
/// operation count (u32), the operations (a tag byte, then its fields; strings are u32 length +
/// UTF-8, an optional stamp is a presence byte then the stamp), and the SHA-256 of everything
/// before it, so a damaged journal is refused rather than half-followed.
package struct MirrorJournal: Sendable, Equatable {
    package var version: UInt64
    package var operations: [JournalOperation]

    private static let magic = Array("PDMJ".utf8)
    private static let format: UInt8 = 1

    package func encoded() -> [UInt8] {
        var writer = FieldWriter.mirrorFile()
        writer.append(raw: Self.magic)
        writer.append(Self.format)
        writer.append(version)
        writer.append(UInt32(operations.count))
        for operation in operations { operation.encode(into: &writer) }
        writer.append(raw: SHA256.hash(data: writer.bytes))
        return writer.bytes
    }

    package init(version: UInt64, operations: [JournalOperation]) {
        self.version = version
        self.operations = operations
    }

    package init(decoding bytes: [UInt8], source: String) throws(MirrorError) {
        let checksumSize = SHA256.byteCount
        guard bytes.count >= Self.magic.count + 1 + 8 + 4 + checksumSize else {
            throw MirrorError(.corrupt, "\(source): truncated journal (\(bytes.count) bytes)")
        }
        let body = bytes.dropLast(checksumSize)
        guard Array(SHA256.hash(data: body)) == Array(bytes.suffix(checksumSize)) else {
            throw MirrorError(.corrupt, "\(source): journal checksum does not match its contents")
        }
        var reader = FieldReader.mirrorFile(Array(body), source: source)
        guard Array(try reader.raw(Self.magic.count)) == Self.magic else { throw reader.corrupt("not a PeerDist journal") }
        guard try reader.uint8() == Self.format else { throw reader.corrupt("unknown journal format") }
        version = try reader.uint64()
        let count = try reader.count(ofItemsAtLeast: 5)
        var operations: [JournalOperation] = []
        operations.reserveCapacity(count)
        for _ in 0..<count { operations.append(try JournalOperation(from: &reader)) }
        guard reader.isAtEnd else { throw reader.corrupt("trailing bytes") }
        self.operations = operations
    }

    /// Writes the journal durably under its final name in `root`: a temporary file, flushed,
    /// then renamed over the name, then the directory flushed.
    func write(in root: DirectoryHandle) throws(MirrorError) {
        try root.removeFile(MirrorNames.journalTemporary)
        do throws(MirrorError) {
            let file = try root.openFile(MirrorNames.journalTemporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            try file.write(encoded(), at: 0)
            try file.sync()
            try root.rename(MirrorNames.journalTemporary, to: root, as: MirrorNames.journal)
        } catch {
            try? root.removeFile(MirrorNames.journalTemporary)
            throw error
        }
        root.sync()
    }

    /// The journal in `root`, or nil when there is none.
    static func read(in root: DirectoryHandle) throws(MirrorError) -> MirrorJournal? {
        let file: OpenFile
        do throws(MirrorError) {
            file = try root.openFile(MirrorNames.journal, flags: O_RDONLY)
        } catch where error.hasErrno(ENOENT) {
            return nil
        }
        let size = Int(try file.status().size)
        var failure: MirrorError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            do throws(MirrorError) {
                count = try file.read(into: UnsafeMutableRawBufferPointer(buffer), at: 0)
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return try MirrorJournal(decoding: bytes, source: file.path)
    }

    /// Removes the journal once every operation is made and flushed.
    static func remove(in root: DirectoryHandle) throws(MirrorError) {
        try root.removeFile(MirrorNames.journal)
        root.sync()
    }
}

/// One change of a commit. Paths are relative to the mirror's root; `replacing` and `expected`
/// are the stamps the applied version left at the path (nil when it left nothing there), which
/// tell a path that may be replaced from a local change that must be moved aside.
package enum JournalOperation: Sendable, Equatable {
    /// Makes `path` a directory (mode 0700 until `setDirectoryAttributes`). A directory already
    /// there is kept.
    case makeDirectory(path: String, replacing: PathStamp?)
    /// Renames the staged file or link `staged` (a name in the staging directory) to `path`.
    case place(staged: String, path: String, replacing: PathStamp?)
    /// Removes `path`, which the new version no longer has.
    case remove(path: String, expected: PathStamp?)
    /// Sets a directory's permission bits and modification time, once nothing inside it changes
    /// any more.
    case setDirectoryAttributes(path: String, mode: UInt32, modified: FileTime)

    package var path: String {
        switch self {
        case .makeDirectory(let path, _), .place(_, let path, _), .remove(let path, _), .setDirectoryAttributes(let path, _, _):
            return path
        }
    }

    private enum Tag: UInt8 {
        case makeDirectory = 1, place, remove, setDirectoryAttributes
    }

    fileprivate func encode(into writer: inout FieldWriter) {
        switch self {
        case .makeDirectory(let path, let replacing):
            writer.append(Tag.makeDirectory.rawValue)
            writer.append(path)
            Self.encode(replacing, into: &writer)
        case .place(let staged, let path, let replacing):
            writer.append(Tag.place.rawValue)
            writer.append(staged)
            writer.append(path)
            Self.encode(replacing, into: &writer)
        case .remove(let path, let expected):
            writer.append(Tag.remove.rawValue)
            writer.append(path)
            Self.encode(expected, into: &writer)
        case .setDirectoryAttributes(let path, let mode, let modified):
            writer.append(Tag.setDirectoryAttributes.rawValue)
            writer.append(path)
            writer.append(mode)
            writer.append(modified)
        }
    }

    fileprivate init(from reader: inout FieldReader<MirrorError>) throws(MirrorError) {
        guard let tag = Tag(rawValue: try reader.uint8()) else { throw reader.corrupt("unknown operation") }
        switch tag {
        case .makeDirectory:
            self = .makeDirectory(path: try Self.path(from: &reader), replacing: try Self.optionalStamp(from: &reader))
        case .place:
            let staged = try reader.string()
            // Bytes, as the kernel reads the name: a String would see "/" and a combining mark as one Character.
            guard let first = staged.utf8.first, first != UInt8(ascii: "."), !staged.utf8.contains(UInt8(ascii: "/")) else {
                throw reader.corrupt("bad staging name")
            }
            self = .place(staged: staged, path: try Self.path(from: &reader), replacing: try Self.optionalStamp(from: &reader))
        case .remove:
            self = .remove(path: try Self.path(from: &reader), expected: try Self.optionalStamp(from: &reader))
        case .setDirectoryAttributes:
            self = .setDirectoryAttributes(path: try Self.path(from: &reader), mode: try reader.uint32() & 0o7777, modified: try reader.time())
        }
    }

    private static func encode(_ stamp: PathStamp?, into writer: inout FieldWriter) {
        guard let stamp else { return writer.append(UInt8(0)) }
        writer.append(UInt8(1))
        writer.append(stamp)
    }

    private static func optionalStamp(from reader: inout FieldReader<MirrorError>) throws(MirrorError) -> PathStamp? {
        switch try reader.uint8() {
        case 0: return nil
        case 1: return try reader.stamp()
        default: throw reader.corrupt("bad stamp marker")
        }
    }

    /// A relative path with no empty, `.` or `..` component: even a journal that passed its
    /// checksum only ever names paths below the root. Checked on the UTF-8 bytes, as the kernel
    /// will read the path: split into Characters, `../` followed by a combining mark (U+0301)
    /// holds no "/" at all, and passed for one harmless component.
    private static func path(from reader: inout FieldReader<MirrorError>) throws(MirrorError) -> String {
        let start = reader.offset
        let path = try reader.string()
        let components = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !path.isEmpty, components.allSatisfy({ !$0.isEmpty && !$0.elementsEqual(dot) && !$0.elementsEqual(dotDot) }) else {
            throw reader.failure("the path \(MirrorError.quoted(path)) is not a plain relative path below the mirror", at: start)
        }
        return path
    }

    private static let dot = Array(".".utf8)
    private static let dotDot = Array("..".utf8)
}
