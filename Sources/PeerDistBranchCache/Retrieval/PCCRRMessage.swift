import NIOCore
import PeerDistWire

/// One MS-PCCRR message: its body, and the CryptoAlgoId its header carries.
///
/// ```
/// MESSAGE_HEADER (16 bytes, big-endian)
///   ProtVer(4: minor(2) major(2)) ‖ MsgType(4) ‖ MsgSize(4, the whole message) ‖ CryptoAlgoId(4)
/// body, by MsgType
/// ```
/// A request is one HTTP POST body; a response is one HTTP response body, prefixed by a 4-byte
/// TRANSPORT_RESPONSE_HEADER equal to MsgSize. Decoding trusts nothing: MsgSize must match the
/// bytes received, every length is checked against what remains and every count and index
/// against MS-PCCRR's limits, and bytes left after the body are refused.
public struct PCCRRMessage: Hashable, Sendable {
    public enum Body: Hashable, Sendable {
        case negotiationRequest(PCCRRNegotiation)
        case negotiationResponse(PCCRRNegotiation)
        case getBlockList(PCCRRGetBlockList)
        case getBlocks(PCCRRGetBlocks)
        case blockList(PCCRRBlockList)
        case block(PCCRRBlock)
        case getSegmentList(PCCRRGetSegmentList)
        case segmentList(PCCRRSegmentList)

        public var type: PCCRRMessageType {
            switch self {
            case .negotiationRequest: .negotiationRequest
            case .negotiationResponse: .negotiationResponse
            case .getBlockList: .getBlockList
            case .getBlocks: .getBlocks
            case .blockList: .blockList
            case .block: .block
            case .getSegmentList: .getSegmentList
            case .segmentList: .segmentList
            }
        }
    }

    /// In a request, the client's preference; in a response, how MSG_BLK's block is encrypted.
    public var cryptoAlgorithm: PCCRRCryptoAlgorithm
    public var body: Body

    public init(_ body: Body, cryptoAlgorithm: PCCRRCryptoAlgorithm = .none) {
        self.body = body
        self.cryptoAlgorithm = cryptoAlgorithm
    }

    public var type: PCCRRMessageType { body.type }

    // MARK: Encoding

    /// The message as a request's POST body: header and body.
    public func encodedRequest() -> [UInt8] {
        encoded()
    }

    /// The message as a response's HTTP body: the transport header, then the message.
    public func encodedResponse() -> [UInt8] {
        let message = encoded()
        var writer = FieldWriter(capacity: 4 + message.count)
        writer.append(UInt32(message.count))
        writer.append(contentsOf: message)
        return writer.bytes
    }

    func encoded() -> [UInt8] {
        var body = FieldWriter()
        switch self.body {
        case .negotiationRequest(let message), .negotiationResponse(let message): message.write(to: &body)
        case .getBlockList(let message): message.write(to: &body)
        case .getBlocks(let message): message.write(to: &body)
        case .blockList(let message): message.write(to: &body)
        case .block(let message): message.write(to: &body)
        case .getSegmentList(let message): message.write(to: &body)
        case .segmentList(let message): message.write(to: &body)
        }
        var writer = FieldWriter(capacity: 16 + body.bytes.count)
        writer.append(type.version)
        writer.append(type.rawValue)
        writer.append(UInt32(16 + body.bytes.count))
        writer.append(cryptoAlgorithm.rawValue)
        writer.append(contentsOf: body.bytes)
        return writer.bytes
    }

    // MARK: Decoding

    /// Reads a request (a POST body). A request in a major version other than its type's (1 for
    /// the block messages, 2 for GETSEGLIST) is `.unsupportedVersion`, which a server answers
    /// with MSG_NEGO_RESP.
    public init(request: ByteBuffer) throws(BranchCacheError) {
        try self.init(message: request, maximumBytes: PCCRR.Limits.maximumRequestBytes, requests: true)
    }

    public init(request bytes: some Collection<UInt8>) throws(BranchCacheError) {
        try self.init(request: ByteBuffer(bytes: bytes))
    }

    /// Reads a response (an HTTP body): the transport header, then one message.
    public init(response: ByteBuffer) throws(BranchCacheError) {
        var reader = FieldReader(pccrr: response, subject: "PCCRR response")
        let size = try reader.integer(UInt32.self, "TRANSPORT_RESPONSE_HEADER")
        guard Int(exactly: size) == reader.remaining else {
            throw reader.failure("the transport header says \(size) bytes, \(reader.remaining) follow", at: 0)
        }
        try self.init(message: reader.buffer, maximumBytes: PCCRR.Limits.maximumResponseBytes, requests: false)
    }

    public init(response bytes: some Collection<UInt8>) throws(BranchCacheError) {
        try self.init(response: ByteBuffer(bytes: bytes))
    }

    private init(message: ByteBuffer, maximumBytes: Int, requests: Bool) throws(BranchCacheError) {
        let kind = requests ? "request" : "response"
        var header = FieldReader(pccrr: message, subject: "PCCRR \(kind)")
        guard message.readableBytes <= maximumBytes else {
            throw header.failure("\(message.readableBytes) bytes, more than the \(maximumBytes) a \(kind) may have", at: 0)
        }
        let minor = try header.integer(UInt16.self, "minor of ProtVer")
        let major = try header.integer(UInt16.self, "major of ProtVer")
        let version = PCCRRVersion(major: major, minor: minor)
        let rawType = try header.integer(UInt32.self, "MsgType")
        guard let type = PCCRRMessageType(rawValue: rawType) else {
            throw header.failure("MsgType \(rawType) is none of MS-PCCRR's 0…7", at: 4)
        }
        guard type.isRequest == requests else {
            throw header.failure("\(type) is a \(requests ? "response" : "request"), not a \(kind)", at: 4)
        }
        let size = try header.integer(UInt32.self, "MsgSize")
        guard Int(exactly: size) == message.readableBytes else {
            throw header.failure("MsgSize says \(size) bytes, the message has \(message.readableBytes)", at: 8)
        }
        let rawAlgorithm = try header.integer(UInt32.self, "CryptoAlgoId")
        guard let algorithm = PCCRRCryptoAlgorithm(rawValue: rawAlgorithm) else {
            throw header.failure("CryptoAlgoId \(rawAlgorithm) is none of 0…3", at: 12)
        }
        // A negotiation is answered whatever its version; anything else must travel in its own
        // type's major version (1 for the block messages, 2 for the segment lists), or the reply
        // is this node's range (MS-PCCRR 3.6).
        if type != .negotiationRequest, type != .negotiationResponse, version.major != type.version.major {
            throw BranchCacheError(.unsupportedVersion, header.message("\(type) in version \(version); it travels as \(type.version.major).x", at: 0))
        }
        var reader = FieldReader(pccrr: message, subject: "\(type)")
        _ = try reader.bytes(16, "header")
        let body: Body
        switch type {
        case .negotiationRequest: body = .negotiationRequest(try PCCRRNegotiation(reading: &reader))
        case .negotiationResponse: body = .negotiationResponse(try PCCRRNegotiation(reading: &reader))
        case .getBlockList: body = .getBlockList(try PCCRRGetBlockList(reading: &reader))
        case .getBlocks: body = .getBlocks(try PCCRRGetBlocks(reading: &reader))
        case .blockList: body = .blockList(try PCCRRBlockList(reading: &reader))
        case .block: body = .block(try PCCRRBlock(reading: &reader))
        case .getSegmentList: body = .getSegmentList(try PCCRRGetSegmentList(reading: &reader))
        case .segmentList: body = .segmentList(try PCCRRSegmentList(reading: &reader))
        }
        guard reader.isAtEnd else {
            throw reader.failure("\(reader.remaining) bytes after the message")
        }
        self.init(body, cryptoAlgorithm: algorithm)
    }
}
