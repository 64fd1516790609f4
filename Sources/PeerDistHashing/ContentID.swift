import Crypto

/// The name of a content's bytes, independent of who published them: the same file hashed on two
/// machines gets the same ID, so all its holders form one swarm.
///
/// `ID = SHA-256("PeerDist content ID v1" ‖ version ‖ length ‖ for each segment: length ‖ HoD)`,
/// integers big-endian. It commits to every block through the segments' hashes of data, and holds
/// no secret: knowing it is what lets a peer read the content (it keys the segment secrets), so it
/// is a read capability and is never sent in the clear.
public struct ContentID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    private static let domain = Array("PeerDist content ID v1".utf8)
    private static let secretDomain = Array("PeerDist segment secrets v1".utf8)

    public let value: HashValue

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        value = HashValue(bytes)
    }

    /// The ID of hashed content.
    public init(_ content: HashedContent) {
        var sha = SHA256()
        sha.update(data: Self.domain)
        var header = ByteSink(capacity: 17)
        header.append(bigEndian: UInt8(content.version.rawValue))
        header.append(bigEndian: content.length)
        header.append(bigEndian: UInt64(content.segments.count))
        sha.update(data: header.bytes)
        for segment in content.segments {
            var entry = ByteSink(capacity: 36)
            entry.append(bigEndian: segment.length)
            entry.append(segment.hashOfData)
            sha.update(data: entry.bytes)
        }
        value = HashValue(sha.finalize())
    }

    /// The server secret of content addressed by this ID: whoever knows the ID can derive every
    /// segment secret; whoever sees only segment IDs learns neither the ID nor the content.
    public var serverSecret: ServerSecret {
        let key = SymmetricKey(data: value.bytes)
        return ServerSecret(keyBytes: Array(HMAC<SHA256>.authenticationCode(for: Self.secretDomain, using: key)))
    }

    public var hex: String { value.hex }
    public var description: String { value.hex }
}
