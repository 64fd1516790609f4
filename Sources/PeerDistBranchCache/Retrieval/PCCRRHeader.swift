/// The names and numbers of MS-PCCRR's MESSAGE_HEADER: protocol versions, message types and the
/// block ciphers a message may name.
public enum PCCRR {
    /// Peers serve retrieval requests by HTTP POST on this path (the string Windows and iPXE use).
    public static let path = "/116B50EB-ECE2-41ac-8429-9F9E963361B7/"

    /// Limits from MS-PCCRR 3.1 and 2.2.4, checked before anything is allocated.
    public enum Limits {
        /// Every message has its 16-byte header.
        public static let minimumMessageBytes = 16
        /// The largest request body a server reads.
        public static let maximumRequestBytes = 98_304
        /// The largest response message (384 KiB), enough for a 128 KiB version 2 segment.
        public static let maximumResponseBytes = 393_216
        /// Blocks in a version 1 segment (32 MiB of 64 KiB blocks); block indexes are below this.
        public static let blocksPerSegment = 512
        /// Ranges one BLOCK_RANGE_ARRAY may hold.
        public static let maximumRanges = 256
        /// Segment IDs are digests: SHA-256 (versions 1 and 2), SHA-384 or SHA-512 (version 1).
        public static let segmentIDSizes: Set<Int> = [32, 48, 64]
        /// An IV is one AES block, or absent for a block in the clear or not held.
        public static let initializationVectorBytes = 16
        /// GETSEGLIST's RequestID.
        public static let requestIDBytes = 16
        /// Segment IDs one GETSEGLIST may name: as many as a request of `maximumRequestBytes`
        /// holds at 36 bytes each, rounded down to a power of two (MS-PCCRR sets no number).
        public static let maximumSegmentIDs = 2048
        /// An extensible blob version 1 holds at most 255 ages of 4 bytes after its 4-byte head.
        public static let maximumExtensibleBlobBytes = 1024
    }
}

/// A protocol version as MS-PCCRR writes it: minor, then major, 16 bits each, big-endian.
/// Only the major version decides compatibility.
public struct PCCRRVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var major: UInt16
    public var minor: UInt16

    public init(major: UInt16, minor: UInt16) {
        self.major = major
        self.minor = minor
    }

    /// Messages 0–5 always travel as 1.0.
    public static let v1 = PCCRRVersion(major: 1, minor: 0)
    /// GETSEGLIST and SEGLIST travel as 2.0.
    public static let v2 = PCCRRVersion(major: 2, minor: 0)

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }

    public var description: String { "\(major).\(minor)" }
}

/// MsgType: what a message is.
public enum PCCRRMessageType: UInt32, Hashable, Sendable, CustomStringConvertible {
    case negotiationRequest = 0
    case negotiationResponse = 1
    case getBlockList = 2
    case getBlocks = 3
    case blockList = 4
    case block = 5
    case getSegmentList = 6
    case segmentList = 7

    /// The message's name in the specification, for errors and logs.
    public var description: String {
        switch self {
        case .negotiationRequest: "MSG_NEGO_REQ"
        case .negotiationResponse: "MSG_NEGO_RESP"
        case .getBlockList: "MSG_GETBLKLIST"
        case .getBlocks: "MSG_GETBLKS"
        case .blockList: "MSG_BLKLIST"
        case .block: "MSG_BLK"
        case .getSegmentList: "MSG_GETSEGLIST"
        case .segmentList: "MSG_SEGLIST"
        }
    }

    /// The version the message travels as: 1.0 for 0–5, 2.0 for the segment lists.
    public var version: PCCRRVersion { rawValue >= 6 ? .v2 : .v1 }

    /// Whether a client sends it (the rest are a server's replies).
    public var isRequest: Bool {
        switch self {
        case .negotiationRequest, .getBlockList, .getBlocks, .getSegmentList: true
        case .negotiationResponse, .blockList, .block, .segmentList: false
        }
    }
}

/// CryptoAlgoId: how the blocks of a MSG_BLK are encrypted. A request states the client's
/// preference; the response's value is the one that holds.
public enum PCCRRCryptoAlgorithm: UInt32, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case aes128 = 1
    case aes192 = 2
    case aes256 = 3

    /// AES key bytes; 0 for blocks in the clear.
    public var keyByteCount: Int {
        switch self {
        case .none: 0
        case .aes128: 16
        case .aes192: 24
        case .aes256: 32
        }
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .aes128: "AES-128-CBC"
        case .aes192: "AES-192-CBC"
        case .aes256: "AES-256-CBC"
        }
    }
}
