import Foundation
import PeerDistHashing

/// The MS-PCCRR part of `Fixtures/pccrc-vectors.json`: requests as iPXE builds them, a "not
/// held" reply as python-peerdist sends it, and one encrypted MSG_BLK for synthetic content.
struct PCCRRVectors: Decodable {
    struct Messages: Decodable {
        struct SyntheticBlock: Decodable {
            let kp: String
            let aes_key: String
            let total_len: Int
            let ct_len: Int
            let ct_sha256: String
            let first_64_bytes_hex: String
            let last_24_bytes_hex: String
            let full_sha256: String
            let ct_first16: String
            let ct_last16: String
        }
        let nego_req_min1_0_max2_0_hex: String
        let getblks_ipxe_v1_segment0_block1_aes128_hex: String
        let getblklist_ipxe_v1_segment0_blocks0to1_hex: String
        let msg_blk_not_found_hex: String
        let msg_blk_synthetic_v1_block1: SyntheticBlock
    }
    struct Synthetic: Decodable {
        struct SingleSegment: Decodable {
            let content_length: Int
            let content_information_hex: String
        }
        let v1_single_segment_128000: SingleSegment
    }
    let pccrr_messages: Messages
    let synthetic: Synthetic

    static let shared: PCCRRVectors = {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/pccrc-vectors.json")
        do {
            return try JSONDecoder().decode(PCCRRVectors.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot load \(url.path): \(error)")
        }
    }()

    static func bytes(_ hex: String) -> [UInt8] {
        guard let bytes = Hex.decode(hex) else { fatalError("bad hex in fixture") }
        return bytes
    }
}
