import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// The store's index on disk: an append-only log of `StoreLogRecord`s, each framed with its
/// length and a checksum so that a record torn by a crash or a full disk is recognised and cut off.
///
/// ```
/// file    "PDSTLOG1" record…
/// record  length(4, big-endian: bytes of body) check(8) body(length)
///         check = first 8 bytes of SHA-256(length ‖ body)
/// ```
/// Replay stops at the first frame that is short or fails its check; the file is truncated there
/// so later appends are not hidden behind the damage. A failed append is truncated away at once.
/// The log is rewritten whole (through `AtomicFile`) when compaction pays off.
///
/// Not thread-safe: the store calls it only while holding its lock, which also keeps the order of
/// records the order of the changes they make.
final class StoreLog {
    static let magic = Array("PDSTLOG1".utf8)
    static let frameHeaderSize = 12

    let path: String
    private var file: StoreFile
    /// The end of the last good record: where the next one goes.
    private(set) var size: UInt64

    /// What opening found.
    struct Replay {
        var records: [StoreLogRecord]
        /// Bytes after the last good record, cut off (a torn record, or damage).
        var discardedBytes: UInt64
    }

    private init(path: String, file: StoreFile, size: UInt64) {
        self.path = path
        self.file = file
        self.size = size
    }

    /// Opens the log at `path`, creating an empty one if there is none, and reads every record.
    static func open(path: String) throws(StoreError) -> (StoreLog, Replay) {
        if try FileStatus.of(path) == nil {
            // Written atomically, so a crash never leaves a log without its header.
            do throws(AtomicFile.WriteError) {
                try AtomicFile.write(magic, to: path, replacing: false)
            } catch {
                throw .atomicWrite(error)
            }
        }
        let file = try StoreFile.open(path, flags: O_RDWR)
        let length = try file.status().size
        let bytes = try file.read(count: Int(length), at: 0)
        guard bytes.count >= magic.count, Array(bytes[..<magic.count]) == magic else {
            throw StoreError(.corruptIndex, "\(path): not a PeerDist store log (no PDSTLOG1 header)")
        }
        var offset = magic.count
        var records: [StoreLogRecord] = []
        while let body = frame(in: bytes, at: offset) {
            offset += frameHeaderSize + body.count
            if let record = StoreLogRecord(decoding: Array(body)) { records.append(record) }
        }
        if offset < bytes.count {
            try file.truncate(to: UInt64(offset))
            try file.syncData()
        }
        let replay = Replay(records: records, discardedBytes: UInt64(bytes.count - offset))
        return (StoreLog(path: path, file: file, size: UInt64(offset)), replay)
    }

    /// The body of the frame at `offset`, or nil when the frame is short or fails its check.
    private static func frame(in bytes: [UInt8], at offset: Int) -> ArraySlice<UInt8>? {
        guard bytes.count - offset >= frameHeaderSize else { return nil }
        let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        let start = offset + frameHeaderSize
        guard length <= bytes.count - start else { return nil }
        let body = bytes[start..<start + length]
        let check = checksum(lengthField: bytes[offset..<offset + 4], body: body)
        guard check.elementsEqual(bytes[offset + 4..<start]) else { return nil }
        return body
    }

    private static func checksum(lengthField: ArraySlice<UInt8>, body: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        HashAlgorithm.sha256.digest(Array(lengthField) + Array(body)).bytes.prefix(8)
    }

    static func framed(_ record: StoreLogRecord) -> [UInt8] {
        let body = record.encoded()
        var lengthField: [UInt8] = []
        withUnsafeBytes(of: UInt32(body.count).bigEndian) { lengthField.append(contentsOf: $0) }
        return lengthField + checksum(lengthField: lengthField[...], body: body[...]) + body
    }

    /// Appends a record. With `durable`, it is on disk before this returns; without, a crash may
    /// lose it (used for access times, which matter only roughly). On failure the log is as before.
    func append(_ record: StoreLogRecord, durable: Bool) throws(StoreError) {
        let frame = Self.framed(record)
        do throws(StoreError) {
            try file.write(frame, at: size)
            if durable { try file.syncData() }
        } catch {
            // Cut off whatever part of the frame reached the file, so the next append follows the
            // last good record rather than garbage that would end every later replay.
            _ = ftruncate(file.descriptor, off_t(size))
            throw error
        }
        size += UInt64(frame.count)
    }

    /// The size the log would have holding only `records`.
    static func compactedSize(of records: [StoreLogRecord]) -> UInt64 {
        records.reduce(UInt64(magic.count)) { $0 + UInt64(frameHeaderSize + $1.encoded().count) }
    }

    /// Replaces the log with one holding only `records`, atomically: a crash leaves either log.
    /// Returns false, leaving the old log in use, when the new one could not be written (a full
    /// disk must not stop the store from opening); throws only if the new log cannot be reopened.
    func rewrite(with records: [StoreLogRecord]) throws(StoreError) -> Bool {
        let bytes = records.reduce(into: Self.magic) { $0 += Self.framed($1) }
        do throws(AtomicFile.WriteError) {
            try AtomicFile.write(bytes, to: path, replacing: true)
        } catch {
            return false
        }
        file = try StoreFile.open(path, flags: O_RDWR)
        size = UInt64(bytes.count)
        return true
    }
}
