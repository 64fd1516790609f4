import PeerDistHashing
import PeerDistCommandSupport

/// The JSON form of Content Information, shared by `hash --json` and `info --json`. Hashes are
/// lower-case hex; `range` is `[start, end)` in content bytes.
struct ContentInformationReport: Encodable {
    struct Segment: Encodable {
        let index: Int
        let offset: UInt64
        let length: UInt32
        let blockCount: Int
        let hashOfData: String
        let segmentSecret: String
        let segmentID: String

        enum CodingKeys: String, CodingKey {
            case index, offset, length
            case blockCount = "block_count"
            case hashOfData = "hash_of_data"
            case segmentSecret = "segment_secret"
            case segmentID = "segment_id"
        }
    }

    let version: Int
    let hashAlgorithm: String
    let range: [UInt64]
    let size: Int
    let segmentCount: Int
    let segments: [Segment]

    enum CodingKeys: String, CodingKey {
        case version, range, size, segments
        case hashAlgorithm = "hash_algorithm"
        case segmentCount = "segment_count"
    }

    /// - Parameter segmentLimit: how many segments to describe; a summary for people needs only
    ///   the first few, which spares deriving every segment ID of a large file.
    init(_ information: ContentInformation, encodedSize: Int, segmentLimit: Int = .max) {
        version = information.version
        hashAlgorithm = switch information.hashAlgorithm {
        case .sha256: "sha256"
        case .sha384: "sha384"
        case .sha512: "sha512"
        case .sha512Truncated: "sha512-truncated"
        }
        range = [information.range.lowerBound, information.range.upperBound]
        size = encodedSize
        segmentCount = information.segmentCount
        segments = information.segments(prefix: segmentLimit).map {
            Segment(
                index: $0.index, offset: $0.offset, length: $0.length, blockCount: $0.blockCount,
                hashOfData: $0.hashOfData.hex, segmentSecret: $0.segmentSecret.hex, segmentID: $0.segmentID.hex)
        }
    }

    /// A few aligned lines for people: the header, then one line per segment.
    func printSummary(limit: Int = 20) {
        Output.line("version      \(version) (\(hashAlgorithm))")
        Output.line("range        [\(range[0]), \(range[1])) (\(ByteCount.format(Int(range[1] - range[0]))))")
        Output.line("segments     \(segmentCount)")
        for segment in segments.prefix(limit) {
            Output.line("  #\(segment.index)  offset \(segment.offset)  length \(segment.length)  blocks \(segment.blockCount)  id \(segment.segmentID)")
        }
        if segmentCount > limit {
            Output.line("  … \(segmentCount - limit) more (--json lists all)")
        }
    }
}
