/// BEP 42: a node ID bound to its IP address, so that nobody can choose where in the keyspace to
/// sit (and so surround a key). The first 21 bits are CRC32-C of the masked address with a
/// random 3-bit `r`; the last byte is the random byte `rand` whose low bits are `r`.
///
/// Local addresses (loopback, private, link-local) are exempt, as BEP 42 says.
public enum NodeIDRules {
    /// An ID for a node whose address is `address` (4 or 16 bytes).
    public static func nodeID(for address: [UInt8], random: UInt8, rest: [UInt8]) -> NodeID {
        let crc = prefixCRC(address: address, r: random & 7)
        var bytes = [UInt8](repeating: 0, count: 20)
        bytes[0] = UInt8(crc >> 24)
        bytes[1] = UInt8((crc >> 16) & 0xff)
        bytes[2] = UInt8((crc >> 8) & 0xf8)
        for index in 3..<19 { bytes[index] = index - 3 < rest.count ? rest[index - 3] : 0 }
        bytes[2] |= (rest.last ?? 0) & 0x07
        bytes[19] = random
        return NodeID(unchecked: bytes)
    }

    public static func randomNodeID(for address: [UInt8]) -> NodeID {
        nodeID(for: address, random: UInt8.random(in: 0...255), rest: (0..<17).map { _ in UInt8.random(in: 0...255) })
    }

    /// Whether `id` is one a node at `endpoint` may use: always for local addresses.
    public static func isValid(_ id: NodeID, for endpoint: DHTEndpoint) -> Bool {
        if endpoint.isLocal { return true }
        let crc = prefixCRC(address: endpoint.address, r: id.bytes[19] & 7)
        return id.bytes[0] == UInt8(crc >> 24) && id.bytes[1] == UInt8((crc >> 16) & 0xff) && id.bytes[2] & 0xf8 == UInt8((crc >> 8) & 0xf8)
    }

    static func prefixCRC(address: [UInt8], r: UInt8) -> UInt32 {
        let mask: [UInt8] = address.count == 4 ? [0x03, 0x0f, 0x3f, 0xff] : [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]
        var masked = zip(address.prefix(mask.count), mask).map { $0 & $1 }
        masked[0] |= r << 5
        return CRC32C.checksum(masked)
    }
}

/// CRC32-C (Castagnoli), as BEP 42 uses it.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
        return value
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xffff_ffff
    }
}
