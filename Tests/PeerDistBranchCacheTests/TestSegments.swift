import Crypto
import PeerDistHashing
import PeerDistWire
import Synchronization
@testable import PeerDistBranchCache

/// Segments held in memory, for a responder or server under test: the reference's synthetic
/// 128 000-byte version 1 content (two blocks) and a one-segment version 2 content.
final class TestSegments: BranchCacheSegmentSource {
    struct Held {
        let segment: SegmentDescription
        let content: [UInt8]
        var blocks: Set<Int>
    }

    private let held: Mutex<[HashValue: Held]>

    init(_ contents: [(ContentInformation, [UInt8])], holding: [Int]? = nil) {
        var held: [HashValue: Held] = [:]
        for (information, content) in contents {
            for segment in information.segments {
                held[segment.segmentID] = Held(segment: segment, content: content, blocks: Set(holding ?? Array(0..<segment.blockCount)))
            }
        }
        self.held = Mutex(held)
    }

    func segment(withID segmentID: HashValue) -> SegmentDescription? {
        held.withLock { $0[segmentID]?.segment }
    }

    func heldBlocks(of segment: SegmentDescription) -> [BlockRange] {
        let blocks = held.withLock { $0[segment.segmentID]?.blocks ?? [] }
        return blocks.sorted().map { BlockRange(index: UInt32($0), count: 1) }
    }

    func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? {
        held.withLock { held in
            guard let entry = held[segment.segmentID], entry.blocks.contains(index) else { return nil }
            let range = segment.blockRange(index)
            return Array(entry.content[Int(range.lowerBound)..<Int(range.upperBound)])
        }
    }

    /// The synthetic version 1 content and its Content Information from the reference.
    static let version1: (ContentInformation, [UInt8]) = {
        let vector = PCCRRVectors.shared.synthetic.v1_single_segment_128000
        let content = (0..<vector.content_length).map { UInt8($0 % 251) }
        guard let information = try? ContentInformation(decoding: PCCRRVectors.bytes(vector.content_information_hex)) else {
            fatalError("the reference's Content Information does not decode")
        }
        return (information, content)
    }()

    /// 1000 bytes as one version 2 segment, hashed here: HoD = first 32 bytes of SHA-512.
    static let version2: (ContentInformation, [UInt8]) = {
        let content = (0..<1000).map { UInt8(($0 * 13) % 256) }
        let hod = HashValue(Array(SHA512.hash(data: content)).prefix(32))
        let hashed = HashedContent(version: .v2, length: 1000, segments: [.init(offset: 0, length: 1000, hashOfData: hod, blockHashes: [hod])])
        return (ContentInformation(hashed: hashed, secret: ServerSecret(keyBytes: Array("no more secrets".utf8))), content)
    }()
}
