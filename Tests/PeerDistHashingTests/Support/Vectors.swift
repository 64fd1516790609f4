import Foundation
import PeerDistHashing

/// The captured and computed test vectors in `Fixtures/pccrc-vectors.json`.
struct Vectors: Decodable {
    struct IIS: Decodable {
        struct Version1: Decodable {
            struct Segment: Decodable {
                let hod: String
                let kp_segment_secret: String
                let hohodk_segment_id: String
            }
            let content_information_hex: String
            let segments: [Segment]
        }
        struct Version2: Decodable {
            struct Segment: Decodable {
                let cbSegment: UInt32
                let hod: String
                let kp_segment_secret: String
                let hohodk_segment_id: String
            }
            let content_information_hex: String
            let segments: [Segment]
        }
        let server_passphrase_hex: String
        let server_secret_v1_hex: String
        let server_secret_v2_hex: String
        let v1: Version1
        let v2: Version2
    }
    struct Synthetic: Decodable {
        struct SingleSegment: Decodable {
            let content_length: Int
            let server_secret_v1: String
            let content_information_hex: String
        }
        let server_secret_key_bytes: String
        let v1_single_segment_128000: SingleSegment
    }

    let segment_id_magic_hex: String
    let ipxe_iis85_png: IIS
    let synthetic: Synthetic

    static let shared: Vectors = {
        let url = Fixtures.url("pccrc-vectors.json")
        do {
            return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot load \(url.path): \(error)")
        }
    }()
}

enum Fixtures {
    /// The repository's `Fixtures/` folder, found from this file's own path.
    static func url(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    static func bytes(hex: String) -> [UInt8] {
        guard let bytes = Hex.decode(hex) else { fatalError("bad hex in fixture") }
        return bytes
    }
}
