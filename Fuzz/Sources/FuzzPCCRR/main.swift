import FuzzSupport
import PeerDistBranchCache
import PeerDistHashing
import PeerDistWire

/// An MS-PCCRR POST body from any client on the LAN, and a response from any peer a fetch asks:
/// each is decoded as a request and as a response. What a decoder accepts must encode to bytes
/// that decode to the same message (the encoder pads where the input may not have), within the
/// size limits; a MSG_BLK must decrypt or be refused with the typed error, never trap.
func fuzz(_ input: [UInt8]) {
    if let request = try? PCCRRMessage(request: input) {
        let again = request.encodedRequest()
        Fuzzing.check(again.count <= PCCRR.Limits.maximumRequestBytes + 3, "a \(input.count)-byte request re-encodes to \(again.count) bytes")
        Fuzzing.check((try? PCCRRMessage(request: again)) == request, "request round trip changed \(request.type)")
    }
    if let response = try? PCCRRMessage(response: input) {
        let again = response.encodedResponse()
        Fuzzing.check((try? PCCRRMessage(response: again)) == response, "response round trip changed \(response.type)")
        if case .block(let block) = response.body {
            for rule in PCCRRBlockCipher.KeyRule.allCases {
                _ = try? PCCRRBlockCipher(keyRule: rule).decrypt(
                    block.block, initializationVector: block.initializationVector, algorithm: response.cryptoAlgorithm,
                    segmentSecret: secret, length: min(block.block.count, 65_536))
            }
        }
    }
}

let secret = HashValue([UInt8](repeating: 0x42, count: 32))

/// One of each message, as this node writes them (the segment lists in version 2.0), and iPXE's GETBLKS.
func makeSeeds() -> [String: [UInt8]] {
    let id = HashValue([UInt8](repeating: 0xA5, count: 32))
    let ranges = [BlockRange(index: 0, count: 2), BlockRange(index: 9, count: 1)]
    let other = HashValue([UInt8](repeating: 0x5A, count: 32))
    let requestID = [UInt8](0..<16)
    let cipher = PCCRRBlockCipher()
    let iv = [UInt8](repeating: 7, count: 16)
    let ciphertext = (try? cipher.encrypt(Array(repeating: 1, count: 100), algorithm: .aes128, segmentSecret: secret, initializationVector: iv)) ?? []
    let ipxeGetBlocks = Hex.decode(
        "0000000100000003000000440000000100000020491b217dbee2b5f12ca79b015e06f4bbe64f9745bad7867aef17de59927edce900000001000000010000000100000000") ?? []
    return [
        "nego-req": PCCRRMessage(.negotiationRequest(PCCRRNegotiation(minimumVersion: .v1, maximumVersion: .v2))).encodedRequest(),
        "nego-resp": PCCRRMessage(.negotiationResponse(.supported)).encodedResponse(),
        "getblklist": PCCRRMessage(.getBlockList(PCCRRGetBlockList(segmentID: id, neededRanges: ranges)), cryptoAlgorithm: .aes128).encodedRequest(),
        "getblks-ipxe": ipxeGetBlocks,
        "getblks-vrf": PCCRRMessage(.getBlocks(PCCRRGetBlocks(segmentID: id, ranges: ranges, verifierData: [1, 2, 3]))).encodedRequest(),
        "blklist": PCCRRMessage(.blockList(PCCRRBlockList(segmentID: id, ranges: ranges, nextBlockIndex: 12))).encodedResponse(),
        "blk-aes128": PCCRRMessage(
            .block(PCCRRBlock(segmentID: id, blockIndex: 3, nextBlockIndex: 4, block: ciphertext, initializationVector: iv)), cryptoAlgorithm: .aes128
        ).encodedResponse(),
        "blk-clear": PCCRRMessage(.block(PCCRRBlock(segmentID: id, blockIndex: 0, nextBlockIndex: 0, block: [1, 2, 3, 4, 5], initializationVector: []))).encodedResponse(),
        "blk-not-held": PCCRRMessage(.block(.notHeld(segmentID: id, blockIndex: 1))).encodedResponse(),
        "getseglist": PCCRRMessage(.getSegmentList(PCCRRGetSegmentList(requestID: requestID, segmentIDs: [id, other])), cryptoAlgorithm: .aes128).encodedRequest(),
        "seglist": PCCRRMessage(.segmentList(PCCRRSegmentList(requestID: requestID, ranges: [BlockRange(index: 1, count: 1)]))).encodedResponse(),
        "seglist-ages": PCCRRMessage(.segmentList(PCCRRSegmentList(
            requestID: requestID, ranges: [BlockRange(index: 0, count: 2)],
            extensibleBlob: PCCRRSegmentAges(unit: .hundredthsOfASecond, ages: [(0, 1500), (1, 70_000)]).blob))).encodedResponse(),
    ]
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
