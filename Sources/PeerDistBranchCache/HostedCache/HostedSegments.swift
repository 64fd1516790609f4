import Crypto
import Foundation
import NIOCore
import PeerDistHashing
import PeerDistWire
import Synchronization

/// The segments a hosted cache keeps for its branch, apart from any content store: for each, the
/// Content Information a client's SEGMENT_INFO gave (one segment, version 1) and the blocks
/// pulled so far, each checked against its hash before it is written and again before it is
/// served. On disk, `DIR/<segment ID in hex>/segment` and one file per block, `DIR/<id>/<index>`,
/// each written under a temporary name and renamed, so a crash never leaves half a block.
///
/// Version 2 segments offered in a BATCHED_OFFER come with their ID alone: no segment secret
/// (Kp) to decrypt them and no hash of data to check them against. They are kept as they were
/// pulled, sealed (`SealedSegment`: the IV and ciphertext of the one block, under the
/// CryptoAlgoId the cache asked for), checked only for their size, and handed out unchanged to
/// clients that ask for the same CryptoAlgoId. Every client decrypts and verifies each block
/// against its own Content Information, so a sealed segment that is wrong (offered by a client
/// that lied) costs a client one fallback to another source, never a wrong byte; Windows' hosted
/// cache cannot do more with the same message. `DIR/<id>/sealed`.
public final class HostedSegments: BranchCacheSegmentSource, Sendable {
    public let directory: String
    private let entries = PThreadMutex<[HashValue: Entry]>([:])
    private let sealed = PThreadMutex<[HashValue: SealedSegment.Summary]>([:])

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
        var loadedSealed: [HashValue: SealedSegment.Summary] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let id = HashValue(hex: name), loaded[id] == nil,
                  let bytes = FileManager.default.contents(atPath: "\(directory)/\(name)/sealed"),
                  let segment = try? SealedSegment(decoding: Array(bytes))
            else { continue }
            loadedSealed[id] = segment.summary
        }
        sealed.withLock { $0 = loadedSealed }
    }

    /// Keeps a version 2 segment as pulled (see the type's description); false when its size
    /// does not fit the offer.
    public func keepSealed(_ segment: SealedSegment, for segmentID: HashValue) throws -> Bool {
        guard segment.isConsistent else { return false }
        let folder = "\(directory)/\(segmentID.hex)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try write(segment.encoded(), to: "\(folder)/sealed")
        sealed.withLock { $0[segmentID] = segment.summary }
        return true
    }

    public func holdsSealedSegment(withID segmentID: HashValue) -> Bool { holdsSealed(segmentID) }

    /// Whether a sealed copy of the segment is kept, under any CryptoAlgoId.
    public func holdsSealed(_ segmentID: HashValue) -> Bool {
        sealed.withLock { $0[segmentID] != nil }
    }

    public func sealedSegment(withID segmentID: HashValue) -> SealedSegment? {
        guard sealed.withLock({ $0[segmentID] != nil }),
              let bytes = FileManager.default.contents(atPath: "\(directory)/\(segmentID.hex)/sealed")
        else { return nil }
        return try? SealedSegment(decoding: Array(bytes))
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

    /// Whether every block of the segment is here (verified, or sealed as pulled).
    public func holdsAll(_ segmentID: HashValue) -> Bool {
        entries.withLock { entries in entries[segmentID].map { $0.held.count == $0.segment.blockCount } ?? false }
            || holdsSealed(segmentID)
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

/// A version 2 segment as a hosted cache pulled it: one block's IV and ciphertext under the
/// CryptoAlgoId asked for, and the segment's size from the offer. Kept as
/// `CryptoAlgoId(1) ‖ SegmentSize(4, BE) ‖ IV(0 or 16) ‖ ciphertext`.
public struct SealedSegment: Hashable, Sendable {
    public var cryptoAlgorithm: PCCRRCryptoAlgorithm
    public var segmentSize: UInt32
    public var initializationVector: [UInt8]
    public var block: [UInt8]

    struct Summary: Hashable, Sendable {
        var cryptoAlgorithm: PCCRRCryptoAlgorithm
        var segmentSize: UInt32
    }

    var summary: Summary { Summary(cryptoAlgorithm: cryptoAlgorithm, segmentSize: segmentSize) }

    public init(cryptoAlgorithm: PCCRRCryptoAlgorithm, segmentSize: UInt32, initializationVector: [UInt8], block: [UInt8]) {
        self.cryptoAlgorithm = cryptoAlgorithm
        self.segmentSize = segmentSize
        self.initializationVector = initializationVector
        self.block = block
    }

    /// The block can hold the segment and no more: the size in the clear; in AES-CBC, whole AES
    /// blocks covering it with at most one block of padding, and a 16-byte IV.
    public var isConsistent: Bool {
        let size = Int(segmentSize)
        guard size >= 1, size <= ContentInformationV2.maximumSegmentSize else { return false }
        if cryptoAlgorithm == .none { return initializationVector.isEmpty && block.count == size }
        return initializationVector.count == PCCRR.Limits.initializationVectorBytes && block.count % 16 == 0
            && block.count >= size && block.count <= size + 16
    }

    func encoded() -> [UInt8] {
        var writer = FieldWriter(capacity: 5 + initializationVector.count + block.count)
        writer.append(UInt8(cryptoAlgorithm.rawValue))
        writer.append(segmentSize)
        writer.append(contentsOf: initializationVector)
        writer.append(contentsOf: block)
        return writer.bytes
    }

    init(decoding bytes: [UInt8]) throws(BranchCacheError) {
        var reader = FieldReader(pccrr: ByteBuffer(bytes: bytes), subject: "sealed segment")
        let code = try reader.integer(UInt8.self, "CryptoAlgoId")
        guard let algorithm = PCCRRCryptoAlgorithm(rawValue: UInt32(code)) else { throw reader.failure("CryptoAlgoId \(code)", at: 0) }
        cryptoAlgorithm = algorithm
        segmentSize = try reader.integer(UInt32.self, "SegmentSize")
        initializationVector = algorithm == .none ? [] : try reader.bytes(PCCRR.Limits.initializationVectorBytes, "IV")
        block = try reader.bytes(reader.remaining, "block")
        guard isConsistent else { throw reader.failure("a \(block.count)-byte block for a \(segmentSize)-byte segment", at: 1) }
    }
}
