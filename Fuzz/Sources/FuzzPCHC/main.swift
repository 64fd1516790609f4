import FuzzSupport
import PeerDistBranchCache
import PeerDistHashing

/// An MS-PCHC request from any client that offers a hosted cache content, and a response from
/// any hosted cache: what the decoder accepts must encode to bytes that decode to the same
/// message (padding is not kept), and a SEGMENT_INFO it accepts must describe exactly one segment.
func fuzz(_ input: [UInt8]) {
    if let message = try? PCHCMessage(decoding: input) {
        Fuzzing.check((try? PCHCMessage(decoding: message.encoded())) == message, "a PCHC request changed in a round trip")
        if case .segmentInfo = message.body {
            Fuzzing.check((try? message.describedSegment()) != nil, "an accepted SEGMENT_INFO describes no segment")
        }
    }
    if let response = try? PCHCResponse(decoding: input) {
        Fuzzing.check(response.encoded() == input, "a PCHC response does not re-encode to its bytes")
    }
}

/// An offer, a version 2 batch of two segments, and the SEGMENT_INFO for the reference's
/// synthetic 128 000-byte content.
func makeSeeds() -> [String: [UInt8]] {
    let id = HashValue([UInt8](repeating: 0xA5, count: 32))
    let batch = [
        PCHCSegmentDescriptor(segmentSize: 65_536, contentTag: Array(repeating: 2, count: 16), segmentID: id),
        PCHCSegmentDescriptor(segmentSize: 1_000, contentTag: [3], segmentID: HashValue([UInt8](repeating: 0x5A, count: 32))),
    ]
    var seeds = [
        "initial-offer": PCHCMessage(port: 80, body: .initialOffer(segmentID: id)).encoded(),
        "batched-offer": PCHCMessage(majorVersion: 2, port: 80, body: .batchedOffer(batch)).encoded(),
        "response-interested": PCHCResponse.interested.encoded(),
    ]
    let content = (0..<128_000).map { UInt8($0 % 251) }
    let hasher = StreamingContentHasher(version: .v1)
    hasher.update(content)
    let information = ContentInformation(hashed: hasher.finalize(), secret: ServerSecret(keyBytes: Array("no more secrets".utf8)))
    if let segment = information.segments.first,
       let message = PCHCMessage.segmentInfo(port: 80, contentTag: Array(repeating: 1, count: 16), segment: segment, algorithm: .sha256) {
        seeds["segment-info"] = message.encoded()
    }
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
