import NIOCore
import PeerDistHashing

/// The messages peers exchange inside an established secure channel, independent of how they are
/// framed or carried.
///
/// The block messages mirror MS-PCCRR (GETBLKLIST/BLKLIST, GETBLKS/BLK) so that a BranchCache
/// HTTP transport can map onto the same model; PeerDist's own wire adds many blocks per request,
/// request IDs for pipelining, cancellation and Content Information by discovery key.
public enum PeerMessage: Hashable, Sendable {
    /// Asks for the sealed Content Information of the content whose discovery key this is.
    case getContentInformation(requestID: UInt32, discoveryKey: HashValue)
    /// One part of the sealed Content Information; `total` is 0 when the peer does not hold it.
    case contentInformation(requestID: UInt32, total: UInt32, offset: UInt32, part: [UInt8])
    /// Asks which blocks of the content with this discovery key the peer holds.
    case getAvailability(requestID: UInt32, discoveryKey: HashValue)
    /// One part of the peer's held blocks as bits, block `n` in bit `n % 8` of byte `n / 8` of the
    /// whole bitmap, `offset` counting bytes; `blockCount` 0 when the peer holds none of the content.
    case availability(requestID: UInt32, blockCount: UInt32, offset: UInt32, part: [UInt8])
    /// PCCRR GETBLKLIST: which of these blocks of the segment do you hold?
    case getBlockList(requestID: UInt32, segmentID: HashValue, ranges: [BlockRange])
    /// PCCRR BLKLIST: the blocks held, of those asked for.
    case blockList(requestID: UInt32, segmentID: HashValue, ranges: [BlockRange])
    /// PCCRR GETBLKS, generalised: send every block in these ranges, each as a `.block`, then `.replyEnd`.
    case getBlocks(requestID: UInt32, segmentID: HashValue, ranges: [BlockRange])
    /// PCCRR BLK: one block, sealed once under the channel's and the segment's keys (see `SealedBlock`).
    case block(requestID: UInt32, index: UInt32, sealed: SealedBlock)
    /// Ends the reply to a `.getBlocks`, a `.getChunks` or a `.getChunkDelta`.
    case replyEnd(requestID: UInt32)
    /// Asks for the newest signed manifest root of the mirror whose discovery key this is.
    case getMirrorRoot(requestID: UInt32, discoveryKey: HashValue)
    /// Asks for one page of a mirror's manifest, by the page's hash.
    case getMirrorPage(requestID: UInt32, discoveryKey: HashValue, pageHash: HashValue)
    /// Asks for what changed in the mirror's entries from version `from` to version `to` (see
    /// `ManifestDiff`), answered like a page.
    case getMirrorDiff(requestID: UInt32, discoveryKey: HashValue, from: UInt64, to: UInt64)
    /// One part of a sealed manifest root, a manifest page or a diff; `total` is 0 when the peer has none.
    case mirrorPart(requestID: UInt32, total: UInt32, offset: UInt32, part: [UInt8])
    /// Send these chunks of the mirror's files, in order, in `.chunks` (or `.chunk`) replies, then `.replyEnd`.
    case getChunks(requestID: UInt32, discoveryKey: HashValue, chunks: [ChunkReference])
    /// The chunk at `index` of the request's list, zstd-compressed when flagged, or flagged not held;
    /// flagged `delta`, a `ChunkDelta` against the base a `.getChunkDelta` described.
    case chunk(requestID: UInt32, index: UInt32, flags: SealedBlock.Flags, payload: ByteBuffer)
    /// Several replies to one `.getChunks` in one message, each as a `.chunk` would carry it: a
    /// follower of a tree of small files gets dozens per message instead of one.
    case chunks(requestID: UInt32, replies: [ChunkReply])
    /// Send this chunk of the mirror's files as one `.chunk` (index 0), then `.replyEnd`: as a
    /// delta from the chunk `base` describes, which the asker holds, when that is smaller.
    case getChunkDelta(requestID: UInt32, discoveryKey: HashValue, chunk: ChunkReference, base: ChunkSignature)
    /// What two nodes say about the people behind them (cards, presence, objects, invitations):
    /// `kind` and `payload` are a `CollaborationMessage` of the PeerDistCollaboration module,
    /// which this module carries without reading.
    case collaboration(requestID: UInt32, kind: UInt8, payload: [UInt8])
    /// Drops an outstanding request; replies already under way may still arrive.
    case cancel(requestID: UInt32)
    case error(requestID: UInt32, code: UInt16, message: String)

    /// Limits that keep a hostile peer from making us allocate or loop without bound.
    public enum Limits {
        public static let maximumRanges = 512
        /// Chunks one `.getChunks` may name: 16 MiB at 32 KiB each. Also the most replies one
        /// `.chunks` may carry.
        public static let maximumChunksPerRequest = 512
        public static let maximumPart = 256 * 1024
        public static let maximumBlockPayload = ContentInformationV2.maximumSegmentSize + 1024
        /// A block's body: its payload and tag.
        public static let maximumBlockBody = maximumBlockPayload + 16
        public static let maximumErrorMessage = 1024
        /// A collaboration message's payload: an object or application data (< 16 KiB) and headers.
        public static let maximumCollaborationPayload = 40 * 1024
        /// Largest plaintext record: a block plus its header.
        public static let maximumMessage = maximumPart + 1024
    }
}

/// One chunk of a `.chunks` reply: the chunk at `index` of the request's list, zstd-compressed
/// when flagged, or flagged not held (and empty).
public struct ChunkReply: Hashable, Sendable {
    public var index: UInt32
    public var flags: SealedBlock.Flags
    public var payload: ByteBuffer

    public init(index: UInt32, flags: SealedBlock.Flags, payload: ByteBuffer) {
        self.index = index
        self.flags = flags
        self.payload = payload
    }
}

/// Blocks `index ..< index + count` of one segment.
public struct BlockRange: Hashable, Sendable {
    public var index: UInt32
    public var count: UInt32

    public init(index: UInt32, count: UInt32) {
        self.index = index
        self.count = count
    }

    public var indices: Range<Int> { Int(index)..<Int(index) + Int(count) }
}

/// A block as it travels: optionally zstd-compressed, then sealed once, by the channel, under a
/// key derived from the channel's block secret and the segment's block key (see
/// `RecordSealer`). A block that is not held travels as `notHeld` with no payload.
public struct SealedBlock: Hashable, Sendable {
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let compressed = Flags(rawValue: 1 << 0)
        public static let notHeld = Flags(rawValue: 1 << 1)
        /// A mirror chunk sent as a `ChunkDelta` (then maybe compressed), in reply to a `.getChunkDelta`.
        public static let delta = Flags(rawValue: 1 << 2)
    }

    public var flags: Flags
    /// Being sent: the block (its zstd frame when compressed), which the channel seals as it
    /// writes the record. Received: ciphertext followed by the 16-byte tag, a view of its record.
    public var payload: ByteBuffer
    /// Being sent: the key and associated data the channel seals the payload with.
    public var sealing: BlockSealing?
    /// Received: the record and channel the payload was sealed for.
    public var opening: BlockOpening?

    public init(flags: Flags, payload: ByteBuffer, sealing: BlockSealing? = nil, opening: BlockOpening? = nil) {
        self.flags = flags
        self.payload = payload
        self.sealing = sealing
        self.opening = opening
    }

    public init(flags: Flags, payload: [UInt8]) {
        self.init(flags: flags, payload: ByteBuffer(bytes: payload))
    }

    public static let notHeld = SealedBlock(flags: .notHeld, payload: ByteBuffer())
}
