import FuzzSupport
import PeerDistHashing
import PeerDistMirror

/// The files a mirror keeps for itself and reads back after a restart or a crash: the scan cache,
/// the update journal, and the chunk lists of files held as content. Anything with write access to the directory can change them, so they
/// are read as strictly as the network's formats.
///
/// The first byte picks the mode:
/// - 0: a scan cache, which must encode to bytes that decode to the same cache;
/// - 1: a journal as found on disk (checksum included);
/// - 2: a journal body, checksummed here so that the fuzzer gets past the checksum;
/// - 3: a file's chunk list, whose chunks must add up to its length and re-encode to the same list.
/// Every path a journal accepts must be relative and free of `.`, `..` and empty components
/// byte for byte, as the kernel will read it: the journal promises it names nothing outside
/// the mirror.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    switch Fuzzing.take(1, from: &bytes) % 4 {
    case 0:
        guard let cache = try? ScanCache(decoding: Array(bytes)) else { return }
        do {
            Fuzzing.check(try ScanCache(decoding: cache.encoded()) == cache, "decode → encode → decode changed a scan cache")
        } catch {
            Fuzzing.check(false, "a re-encoded scan cache was refused: \(error)")
        }
    case 1:
        if let journal = try? MirrorJournal(decoding: Array(bytes), source: "journal") { check(journal) }
    case 3:
        guard let list = try? FileChunkList(decoding: Array(bytes)) else { return }
        Fuzzing.check(list.chunks.reduce(0) { $0 + UInt64($1.length) } == list.length, "a chunk list's chunks do not add up to its length")
        do {
            Fuzzing.check(try FileChunkList(decoding: list.encoded()) == list, "decode → encode → decode changed a chunk list")
        } catch {
            Fuzzing.check(false, "a re-encoded chunk list was refused: \(error)")
        }
    default:
        let body = Array(bytes)
        if let journal = try? MirrorJournal(decoding: body + HashAlgorithm.sha256.digest(body).bytes, source: "journal") { check(journal) }
    }
}

func check(_ journal: MirrorJournal) {
    for operation in journal.operations {
        Fuzzing.check(isBelowRoot(operation.path), "the journal names \(operation.path.debugDescription), which is not below the mirror's root")
        if case .place(let staged, _, _) = operation {
            let name = Array(staged.utf8)
            Fuzzing.check(!name.isEmpty && !name.contains(UInt8(ascii: "/")) && name.first != UInt8(ascii: "."), "the journal stages \(staged.debugDescription), not a plain name")
        }
    }
    do {
        Fuzzing.check(try MirrorJournal(decoding: journal.encoded(), source: "journal") == journal, "decode → encode → decode changed a journal")
    } catch {
        Fuzzing.check(false, "a re-encoded journal was refused: \(error)")
    }
}

/// Whether `path`, as bytes, is relative with no empty, `.` or `..` component.
func isBelowRoot(_ path: String) -> Bool {
    let components = Array(path.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
    return !path.isEmpty && components.allSatisfy { !$0.isEmpty && !$0.elementsEqual([0x2E]) && !$0.elementsEqual([0x2E, 0x2E]) }
}

func makeSeeds() -> [String: [UInt8]] {
    let time = FileTime(seconds: 1_700_000_000, nanoseconds: 7)
    let stamp = PathStamp(kind: .file, size: 70000, modified: time, changed: time, inode: 42)
    let chunk = ChunkReference(hash: HashValue([UInt8](repeating: 3, count: 32)), length: 65536)
    var cache = ScanCache()
    cache.records["a/f"] = ScanCache.Record(stamp: stamp, chunks: [chunk, chunk])
    cache.records["z"] = ScanCache.Record(stamp: PathStamp(kind: .symlink, size: 3, modified: time, changed: time, inode: 9), chunks: [])
    let journal = MirrorJournal(version: 5, operations: [
        .makeDirectory(path: "a", replacing: nil),
        .place(staged: "f-1", path: "a/f", replacing: stamp),
        .remove(path: "old", expected: stamp),
        // A decomposed "é": paths are bytes to the kernel, but Characters to String.
        .remove(path: "docs/cafe\u{301}.txt", expected: nil),
        .setDirectoryAttributes(path: "a", mode: 0o755, modified: time),
    ])
    let encoded = journal.encoded()
    return [
        "scan-cache": [0] + cache.encoded(),
        "journal": [1] + encoded,
        "journal-body": [2] + encoded.dropLast(32),
        "chunk-list": [3] + FileChunkList(length: 65536 + 40000, chunks: [chunk, ChunkReference(hash: chunk.hash, length: 40000)]).encoded(),
    ]
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
