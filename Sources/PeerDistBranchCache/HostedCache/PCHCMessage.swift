import NIOCore
import PeerDistHashing
import PeerDistWire

/// One MS-PCHC request: how a client tells a branch's hosted cache about content it holds.
///
/// ```
/// MESSAGE_HEADER (8)          MinorVersion(1) = 0 ‖ MajorVersion(1) = 1 or 2 ‖ Type(2, BE) ‖ Padding(4)
/// CONNECTION_INFORMATION (8)  Port(2, BE): the client's MS-PCCRR port ‖ Padding(6)
/// body, by Type:
///   1 INITIAL_OFFER   HoHoDk, the rest of the message
///   2 SEGMENT_INFO    ContentTag(16) ‖ Content Information 1.0 (little-endian inside) for the one segment
///   3 BATCHED_OFFER   (version 2) SEGMENT_DESCRIPTOR × 1…512, each
///                     BlockSize(4) ‖ SegmentSize(4) ‖ SizeOfContentTag(2) ‖ ContentTag ‖
///                     HashAlgorithm(1) ‖ SegmentHoHoDk(32), big-endian
/// ```
/// The descriptor's widths are those of Microsoft's protocol test suite (its PCHC stack and the
/// version 2 hosted-cache test), which the reference's draft widths did not settle.
/// The hosted cache answers each with a RESPONSE_MESSAGE (`PCHCResponse`). Decoding trusts
/// nothing: the header's version and type, the segment ID's size, and the Content Information
/// (by `PeerDistHashing`'s decoder, which must find exactly one segment) are all checked.
public struct PCHCMessage: Hashable, Sendable {
    public enum Body: Hashable, Sendable {
        /// "I hold (some of) this segment": its ID.
        case initialOffer(segmentID: HashValue)
        /// The segment's description and block hashes, so the cache can verify what it pulls.
        case segmentInfo(contentTag: [UInt8], information: [UInt8])
        /// Version 2: "I hold these whole segments", by ID only; the cache pulls them without
        /// a description (see `HostedSegments` for what it can and cannot check).
        case batchedOffer([PCHCSegmentDescriptor])
    }

    /// Paths a hosted cache answers on: plain HTTP (port 80 by default) and HTTPS (443).
    public static let httpPath = "/0131501b-d67f-491b-9a40-c4bf27bcb4d4/"
    public static let httpsPath = "/C574AC30-5794-4AEE-B1BB-6651C5315029/"
    /// Requests are small: a segment's description and at most 512 block hashes of 64 bytes.
    public static let maximumBytes = 16 + 16 + 18 + 144 + 4 + 512 * 64

    public var majorVersion: UInt8
    /// The client's MS-PCCRR port, where the cache pulls the blocks from.
    public var port: UInt16
    public var body: Body

    public init(majorVersion: UInt8 = 1, port: UInt16, body: Body) {
        self.majorVersion = majorVersion
        self.port = port
        self.body = body
    }

    /// A SEGMENT_INFO for one segment of version 1 content.
    public static func segmentInfo(
        port: UInt16, contentTag: [UInt8], segment: SegmentDescription, algorithm: HashAlgorithm
    ) -> PCHCMessage? {
        guard contentTag.count == 16, let code = algorithm.version1Code else { return nil }
        var writer = FieldWriter(endianness: .little)
        writer.append(UInt16(0x0100))
        writer.append(code)
        writer.append(UInt32(0))  // dwOffsetInFirstSegment
        writer.append(segment.length)  // dwReadBytesInLastSegment: the whole segment
        writer.append(UInt32(1))
        writer.append(segment.offset)
        writer.append(segment.length)
        writer.append(segment.blockSize)
        writer.append(segment.hashOfData)
        writer.append(segment.segmentSecret)
        writer.append(UInt32(segment.blockHashes.count))
        for hash in segment.blockHashes { writer.append(hash) }
        return PCHCMessage(port: port, body: .segmentInfo(contentTag: contentTag, information: writer.bytes))
    }

    /// The segment a SEGMENT_INFO describes, with its verified-to-be-consistent block hashes.
    public func describedSegment() throws(BranchCacheError) -> SegmentDescription? {
        guard case .segmentInfo(_, let bytes) = body else { return nil }
        let information: ContentInformation
        do {
            information = try ContentInformation(decoding: bytes)
        } catch {
            throw BranchCacheError(.malformed, "SEGMENT_INFO_MESSAGE, byte 32: \(error)")
        }
        let segments = information.segments
        guard information.version == 1, segments.count == 1 else {
            throw BranchCacheError(.malformed, "SEGMENT_INFO_MESSAGE, byte 32: Content Information for \(segments.count) segments in version \(information.version); one segment of version 1 belongs here")
        }
        return segments[0]
    }

    public func encoded() -> [UInt8] {
        var writer = FieldWriter()
        writer.append(UInt8(0))
        writer.append(majorVersion)
        switch body {
        case .initialOffer: writer.append(UInt16(1))
        case .segmentInfo: writer.append(UInt16(2))
        case .batchedOffer: writer.append(UInt16(3))
        }
        writer.append(UInt32(0))
        writer.append(port)
        writer.append(contentsOf: repeatElement(UInt8(0), count: 6))
        switch body {
        case .initialOffer(let segmentID): writer.append(segmentID)
        case .segmentInfo(let tag, let information):
            writer.append(contentsOf: tag)
            writer.append(contentsOf: information)
        case .batchedOffer(let descriptors):
            for descriptor in descriptors { descriptor.write(to: &writer) }
        }
        return writer.bytes
    }

    public init(decoding bytes: some Collection<UInt8>) throws(BranchCacheError) {
        var reader = FieldReader(pccrr: ByteBuffer(bytes: bytes), subject: "PCHC request")
        guard reader.remaining <= Self.maximumBytes else {
            throw reader.failure("\(reader.remaining) bytes, more than the \(Self.maximumBytes) a request may have", at: 0)
        }
        let minor = try reader.integer(UInt8.self, "MinorVersion")
        majorVersion = try reader.integer(UInt8.self, "MajorVersion")
        guard minor == 0, majorVersion == 1 || majorVersion == 2 else {
            throw BranchCacheError(.unsupportedVersion, reader.message("version \(majorVersion).\(minor); hosted caches speak 1.0 and 2.0", at: 0))
        }
        let type = try reader.integer(UInt16.self, "Type")
        _ = try reader.bytes(4, "header padding")
        port = try reader.integer(UInt16.self, "Port")
        _ = try reader.bytes(6, "connection padding")
        switch type {
        case 1:
            guard PCCRR.Limits.segmentIDSizes.contains(reader.remaining) else {
                throw reader.failure("a segment ID of \(reader.remaining) bytes; IDs are 32, 48 or 64 bytes")
            }
            body = .initialOffer(segmentID: HashValue(try reader.bytes(reader.remaining, "HoHoDk")))
        case 2:
            let tag = try reader.bytes(16, "ContentTag")
            body = .segmentInfo(contentTag: tag, information: try reader.bytes(reader.remaining, "SegmentInfo"))
            _ = try describedSegment()
        case 3:
            guard majorVersion == 2 else {
                throw BranchCacheError(.unsupportedVersion, reader.message("BATCHED_OFFER_MESSAGE in version \(majorVersion).0; it is version 2.0's", at: 1))
            }
            var descriptors: [PCHCSegmentDescriptor] = []
            while reader.remaining > 0 {
                guard descriptors.count < PCHCSegmentDescriptor.maximumPerOffer else {
                    throw reader.failure("more than the \(PCHCSegmentDescriptor.maximumPerOffer) segment descriptors an offer may hold")
                }
                descriptors.append(try PCHCSegmentDescriptor(reading: &reader))
            }
            guard !descriptors.isEmpty else { throw reader.failure("a BATCHED_OFFER_MESSAGE without segment descriptors") }
            body = .batchedOffer(descriptors)
        default:
            throw reader.failure("Type \(type) is none of MS-PCHC's 1…3", at: 2)
        }
    }
}

/// One segment of a BATCHED_OFFER_MESSAGE: a whole version 2 segment the client holds.
public struct PCHCSegmentDescriptor: Hashable, Sendable {
    /// Bytes per block; a version 2 segment is one block, so this is `segmentSize`.
    public var blockSize: UInt32
    /// Bytes in the segment (at most version 2's 128 KiB).
    public var segmentSize: UInt32
    /// Groups a content's segments (1 to 256 bytes; Windows sends 16).
    public var contentTag: [UInt8]
    /// Version 2's hash, truncated SHA-512: 4 as Content Information 2.0 numbers it (Microsoft's
    /// test suite copies that field); 1, an earlier draft's number for SHA-256, is read as the same.
    public var hashAlgorithm: UInt8
    public var segmentID: HashValue

    public static let maximumPerOffer = 512
    static let acceptedHashAlgorithms: Set<UInt8> = [1, 4]

    public init(segmentSize: UInt32, contentTag: [UInt8], segmentID: HashValue, hashAlgorithm: UInt8 = 4) {
        self.blockSize = segmentSize
        self.segmentSize = segmentSize
        self.contentTag = contentTag
        self.hashAlgorithm = hashAlgorithm
        self.segmentID = segmentID
    }

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        let start = reader.offset
        blockSize = try reader.integer(UInt32.self, "BlockSize")
        segmentSize = try reader.integer(UInt32.self, "SegmentSize")
        guard segmentSize >= 1, segmentSize <= UInt32(ContentInformationV2.maximumSegmentSize), blockSize >= 1, blockSize <= segmentSize else {
            throw reader.failure("BlockSize \(blockSize) and SegmentSize \(segmentSize); a version 2 segment is 1 byte to 128 KiB, its block no larger", at: start)
        }
        let tagSize = Int(try reader.integer(UInt16.self, "SizeOfContentTag"))
        guard (1...256).contains(tagSize) else { throw reader.failure("SizeOfContentTag \(tagSize) is outside 1…256", at: start + 8) }
        contentTag = try reader.bytes(tagSize, "ContentTag")
        let algorithmAt = reader.offset
        hashAlgorithm = try reader.integer(UInt8.self, "HashAlgorithm")
        guard Self.acceptedHashAlgorithms.contains(hashAlgorithm) else {
            throw reader.failure("HashAlgorithm \(hashAlgorithm); version 2 content is hashed with truncated SHA-512 (4)", at: algorithmAt)
        }
        segmentID = HashValue(try reader.bytes(32, "SegmentHoHoDk"))
    }

    func write(to writer: inout FieldWriter) {
        writer.append(blockSize)
        writer.append(segmentSize)
        writer.append(UInt16(clamping: contentTag.count))
        writer.append(contentsOf: contentTag)
        writer.append(hashAlgorithm)
        writer.append(segmentID)
    }
}

/// RESPONSE_MESSAGE: `Size(4, BE) = 1 ‖ ResponseCode(1)`.
public enum PCHCResponse: UInt8, Hashable, Sendable {
    /// The cache has what it needs (or will fetch it).
    case ok = 0
    /// Send the SEGMENT_INFO for this segment.
    case interested = 1

    public func encoded() -> [UInt8] { [0, 0, 0, 1, rawValue] }

    public init(decoding bytes: some Collection<UInt8>) throws(BranchCacheError) {
        var reader = FieldReader(pccrr: ByteBuffer(bytes: bytes), subject: "PCHC response")
        let size = try reader.integer(UInt32.self, "Size")
        guard size == 1, reader.remaining == 1 else {
            throw reader.failure("Size \(size) with \(reader.remaining) bytes after it; a response is one byte", at: 0)
        }
        let code = try reader.integer(UInt8.self, "ResponseCode")
        guard let response = PCHCResponse(rawValue: code) else { throw reader.failure("ResponseCode \(code) is neither 0 nor 1", at: 4) }
        self = response
    }
}
