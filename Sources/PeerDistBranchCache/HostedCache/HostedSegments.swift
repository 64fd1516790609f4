import Crypto
import Foundation
import PeerDistHashing
import PeerDistWire
import Synchronization

/// The segments a hosted cache keeps for its branch, apart from any content store: for each, the
/// Content Information a client's SEGMENT_INFO gave (one segment, version 1) and the blocks
/// pulled so far, each checked against its hash before it is written and again before it is
/// served. On disk, `DIR/<segment ID in hex>/segment` and one file per block, `DIR/<id>/<index>`,
/// each written under a temporary name and renamed, so a crash never leaves half a block.
public final class HostedSegments: BranchCacheSegmentSource, Sendable {
    public let directory: String
    private let entries = PThreadMutex<[HashValue: Entry]>([:])

    struct Entry {
        var segment: SegmentDescription
        var held: Set<Int>
    }

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var loaded: [HashValue: Entry] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let id = HashValue(hex: name), let bytes = FileManager.default.contents(atPath: "\(directory)/\(name)/segment"),
                  let information = try? ContentInformation(decoding: Array(bytes)), let segment = information.segments.first,
                  information.segments.count == 1, segment.segmentID == id
            else { continue }
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(name)")) ?? []
            let held = Set(files.compactMap(Int.init).filter { $0 >= 0 && $0 < segment.blockCount })
            loaded[id] = Entry(segment: segment, held: held)
        }
        entries.withLock { $0 = loaded }
    }

    /// Records a segment offered by a client; its description came in a SEGMENT_INFO.
    public func add(_ segment: SegmentDescription, information: [UInt8]) throws {
        if entries.withLock({ $0[segment.segmentID] != nil }) { return }
        let folder = "\(directory)/\(segment.segmentID.hex)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try write(information, to: "\(folder)/segment")
        entries.withLock { entries in
            if entries[segment.segmentID] == nil { entries[segment.segmentID] = Entry(segment: segment, held: []) }
        }
    }

    /// Whether every block of the segment is here.
    public func holdsAll(_ segmentID: HashValue) -> Bool {
        entries.withLock { entries in entries[segmentID].map { $0.held.count == $0.segment.blockCount } ?? false }
    }

    /// Keeps a block if it matches its hash; false (nothing kept) when it does not.
    public func keep(_ bytes: [UInt8], block index: Int, of segmentID: HashValue) throws -> Bool {
        guard let segment = entries.withLock({ $0[segmentID]?.segment }), index >= 0, index < segment.blockCount,
              Self.verifies(bytes, block: index, of: segment)
        else { return false }
        try write(bytes, to: "\(directory)/\(segmentID.hex)/\(index)")
        entries.withLock { _ = $0[segmentID]?.held.insert(index) }
        return true
    }

    public func segment(withID segmentID: HashValue) -> SegmentDescription? {
        entries.withLock { $0[segmentID]?.segment }
    }

    public func heldBlocks(of segment: SegmentDescription) -> [BlockRange] {
        let held = entries.withLock { $0[segment.segmentID]?.held ?? [] }
        return held.sorted().map { BlockRange(index: UInt32($0), count: 1) }
    }

    public func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? {
        guard entries.withLock({ $0[segment.segmentID]?.held.contains(index) ?? false }),
              let data = FileManager.default.contents(atPath: "\(directory)/\(segment.segmentID.hex)/\(index)")
        else { return nil }
        let bytes = Array(data)
        // A damaged file is never served.
        return Self.verifies(bytes, block: index, of: segment) ? bytes : nil
    }

    /// Version 1 blocks are hashed with the Content Information's function, known by its size.
    static func verifies(_ bytes: [UInt8], block index: Int, of segment: SegmentDescription) -> Bool {
        guard bytes.count == segment.blockRange(index).count, index < segment.blockHashes.count else { return false }
        let expected = segment.blockHashes[index]
        switch expected.count {
        case 32: return HashValue(SHA256.hash(data: bytes)) == expected
        case 48: return HashValue(SHA384.hash(data: bytes)) == expected
        case 64: return HashValue(SHA512.hash(data: bytes)) == expected
        default: return false
        }
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".part"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw BranchCacheError(.notFound, "cannot rename \(temporary)") }
    }
}
