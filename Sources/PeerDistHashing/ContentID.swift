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

    /// What peers are asked for when looking for this content: it names the content to those
    /// who hold it without revealing the ID to anyone who overhears.
    public var discoveryKey: HashValue { derive("PeerDist discovery key v1") }

    /// Seals Content Information on the wire, so that only holders of the ID can read the segment
    /// secrets it carries, whoever relays it.
    public var contentInformationKey: HashValue { derive("PeerDist content information key v1") }

    private func derive(_ label: String) -> HashValue {
        HashValue(HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: SymmetricKey(data: value.bytes)))
    }

    public var hex: String { value.hex }
    public var description: String { value.hex }
}
