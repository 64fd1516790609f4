import Crypto

/// A digest, key or identifier of fixed length: a block hash, a segment's hash of data (HoD),
/// a segment secret (Kp) or a segment ID (HoHoDk).
///
/// PeerDist values are 32 bytes, except Content Information version 1 built on SHA-384 or
/// SHA-512 (48 or 64 bytes). The bytes are stored inline, so a list of a hundred thousand hashes
/// is one allocation. Equality runs in time independent of where the values differ, because some
/// of these values are secrets.
public struct HashValue: Sendable, Hashable, CustomStringConvertible {
    /// The longest value: a SHA-512 digest.
    public static let maximumByteCount = 64

    private typealias Storage = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    private var storage: Storage = (0, 0, 0, 0, 0, 0, 0, 0)
    private let length: UInt8

    /// - Precondition: at most 64 bytes; every digest PeerDist handles fits.
    public init<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        precondition(bytes.count <= Self.maximumByteCount, "a hash value holds at most 64 bytes")
        length = UInt8(bytes.count)
        Swift.withUnsafeMutableBytes(of: &storage) { storage in
            storage.copyBytes(from: bytes)
        }
    }

    public init<D: Digest>(_ digest: D) {
        self = digest.withUnsafeBytes { HashValue($0) }
    }

    public init<H: HashFunction>(_ code: HashedAuthenticationCode<H>) {
        self = code.withUnsafeBytes { HashValue($0) }
    }

    /// Parses lower- or upper-case hexadecimal; `nil` unless the text is an even number of hex
    /// digits making at most 64 bytes.
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex), bytes.count <= Self.maximumByteCount else { return nil }
        self.init(bytes)
    }

    public var count: Int { Int(length) }

    /// The bytes, in wire order.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: storage) { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
    }

    /// Lower-case hexadecimal.
    public var hex: String { withUnsafeBytes { Hex.encode($0) } }

    public var description: String { hex }

    public static func == (lhs: HashValue, rhs: HashValue) -> Bool {
        guard lhs.length == rhs.length else { return false }
        return lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in
                var difference: UInt8 = 0
                for index in 0..<left.count {
                    difference |= left[index] ^ right[index]
                }
                return difference == 0
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
