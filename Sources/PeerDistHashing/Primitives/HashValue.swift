/// A digest, key or identifier of fixed length: a block hash, a segment's hash of data (HoD),
/// a segment secret (Kp) or a segment ID (HoHoDk).
///
/// PeerDist values are 32 bytes, except Content Information version 1 built on SHA-384 or
/// SHA-512 (48 or 64 bytes). Equality runs in time independent of where the values differ,
/// because some of these values are secrets.
public struct HashValue: Sendable, Hashable, CustomStringConvertible {
    /// The bytes, in wire order.
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        self.bytes = Array(bytes)
    }

    /// Parses lower- or upper-case hexadecimal; `nil` when the text is not an even number of hex digits.
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.bytes = bytes
    }

    public var count: Int { bytes.count }

    /// Lower-case hexadecimal.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    public static func == (lhs: HashValue, rhs: HashValue) -> Bool {
        guard lhs.bytes.count == rhs.bytes.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.bytes.indices {
            difference |= lhs.bytes[index] ^ rhs.bytes[index]
        }
        return difference == 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes)
    }
}
