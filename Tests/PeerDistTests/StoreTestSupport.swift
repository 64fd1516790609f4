import Foundation
import PeerDistHashing
@testable import PeerDist
@testable import PeerDistStore

/// A directory of its own for one test, holding the store and the files the test makes; removed
/// when the test lets go of it.
final class StoreScratch: Sendable {
    let path: String

    init(prefix: String = "peerdist-store", under base: String = FileManager.default.temporaryDirectory.path) throws {
        path = "\(base)/\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        remove()
    }

    /// Where the test's store lives.
    var storeDirectory: String { "\(path)/store" }
    var cacheDirectory: String { "\(path)/store/cache" }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A scratch directory holding a file named `published` of `count` reproducible bytes.
    static func withFile(count: Int, seed: UInt64) throws -> (scratch: StoreScratch, bytes: [UInt8], file: String) {
        let scratch = try StoreScratch()
        let bytes = StoreTestContent.random(count: count, seed: seed)
        return (scratch, bytes, try scratch.write(bytes, name: "published"))
    }

    /// Makes (if needed) and returns a directory inside the scratch directory.
    func directory(_ name: String) throws -> String {
        let directory = "\(path)/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Writes `bytes` to a new file in the scratch directory and returns its path.
    @discardableResult
    func write(_ bytes: [UInt8], name: String) throws -> String {
        let file = "\(path)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func openStore(quotaBytes: UInt64? = nil) throws -> ContentStore {
        try ContentStore(directory: storeDirectory, quotaBytes: quotaBytes)
    }
}

func contents(of path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Content for store tests: reproducible bytes, and the Content Information a peer would send.
enum StoreTestContent {
    /// Pseudo-random bytes from a seed, a word at a time so large contents are quick to make.
    static func random(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            for index in 0..<raw.count / 8 {
                raw.storeBytes(of: generator.next(), toByteOffset: index * 8, as: UInt64.self)
            }
            for index in (raw.count / 8 * 8)..<raw.count { raw[index] = UInt8(truncatingIfNeeded: generator.next()) }
        }
        return bytes
    }

    /// The content ID and the Content Information built with its secret, as the store builds them.
    static func describe(_ bytes: [UInt8], version: ContentInformationVersion) -> (id: ContentID, information: ContentInformation) {
        let hasher = StreamingContentHasher(version: version)
        hasher.update(bytes)
        let hashed = hasher.finalize()
        let id = ContentID(hashed)
        return (id, ContentInformation(hashed: hashed, secret: id.serverSecret))
    }

    /// Every block of the content: its segment, its index in the segment, and its bytes' range.
    static func blocks(of information: ContentInformation) -> [(segment: Int, block: Int, range: Range<Int>)] {
        information.segments.flatMap { segment in
            (0..<segment.blockCount).map { block in
                let range = segment.blockRange(block)
                return (segment.index, block, Int(range.lowerBound)..<Int(range.upperBound))
            }
        }
    }

    /// Downloads `bytes` whole into `store` and finishes; returns the content ID.
    @discardableResult
    static func cache(_ bytes: [UInt8], in store: ContentStore, version: ContentInformationVersion = .v1) throws -> ContentID {
        let (id, information) = describe(bytes, version: version)
        let download = try store.beginDownload(contentID: id, information: information)
        for (segment, block, range) in blocks(of: information) {
            try download.write(segment: segment, block: block, bytes: Array(bytes[range]))
        }
        try download.finish()
        return id
    }
}

/// SplitMix64: a reproducible generator for shuffles and content.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs a program and waits for it; used to mount and unmount the small file systems that
/// make a disk fill up.
enum StoreSubprocess {
    @discardableResult
    static func run(_ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
