import PeerDistHashing
import PeerDistWire

/// MSG_BLK: one block, encrypted as the response header's CryptoAlgoId says, with the IV after
/// it. An empty block means the server does not hold it, or is serving as many clients as it will.
///
/// `SegID ‖ BlockIndex(4) ‖ NextBlockIndex(4) ‖ SizeOfBlock(4) ‖ Block ‖ pad ‖ SizeOfVrfBlock(4) ‖
/// VrfBlock ‖ pad ‖ SizeOfIVBlock(4) ‖ IVBlock`.
public struct PCCRRBlock: Hashable, Sendable {
    public var segmentID: HashValue
    public var blockIndex: UInt32
    /// The next block past this one the server holds; 0 for none.
    public var nextBlockIndex: UInt32
    /// The ciphertext (or, with CryptoAlgoId 0, the plaintext); empty when not held.
    public var block: [UInt8]
    /// VrfBlock, which no implementation fills; kept so a round trip is exact.
    public var verifierBlock: [UInt8]
    /// 16 bytes for an encrypted block, else empty.
    public var initializationVector: [UInt8]

    public init(
        segmentID: HashValue, blockIndex: UInt32, nextBlockIndex: UInt32, block: [UInt8],
        verifierBlock: [UInt8] = [], initializationVector: [UInt8]
    ) {
        self.segmentID = segmentID
        self.blockIndex = blockIndex
        self.nextBlockIndex = nextBlockIndex
        self.block = block
        self.verifierBlock = verifierBlock
        self.initializationVector = initializationVector
    }

    /// The reply for a block the server does not hold (or will not send now).
    public static func notHeld(segmentID: HashValue, blockIndex: UInt32) -> PCCRRBlock {
        PCCRRBlock(segmentID: segmentID, blockIndex: blockIndex, nextBlockIndex: 0, block: [], initializationVector: [])
    }

    public var isEmpty: Bool { block.isEmpty }

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        segmentID = try reader.segmentID()
        blockIndex = try reader.blockIndex("BlockIndex")
        nextBlockIndex = try reader.blockIndex("NextBlockIndex")
        block = try reader.paddedBytes(atMost: PCCRR.Limits.maximumResponseBytes, "block")
        verifierBlock = try reader.paddedBytes(atMost: PCCRR.Limits.maximumResponseBytes, "VrfBlock")
        let position = reader.offset
        initializationVector = try reader.paddedBytes(atMost: PCCRR.Limits.initializationVectorBytes, "IVBlock")
        guard initializationVector.isEmpty || initializationVector.count == PCCRR.Limits.initializationVectorBytes else {
            throw reader.failure("an IV of \(initializationVector.count) bytes; AES takes 16", at: position)
        }
    }

    func write(to writer: inout FieldWriter) {
        writer.appendSegmentID(segmentID)
        writer.append(blockIndex)
        writer.append(nextBlockIndex)
        writer.appendPadded(block)
        writer.appendPadded(verifierBlock)
        writer.appendPadded(initializationVector)
    }
}
