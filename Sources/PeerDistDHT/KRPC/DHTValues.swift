import Crypto
import NIOCore

/// A 160-bit Mainline DHT identifier: a node ID, an info-hash, or a BEP 44 item's target.
public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let byteCount = 20
    public let bytes: [UInt8]

    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    public static func random() -> NodeID {
        var generator = SystemRandomNumberGenerator()
        return NodeID(unchecked: (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// SHA-1 of `data`: how BEP 44 names an item and how BEP 5 names a torrent.
    public static func sha1(_ data: [UInt8]) -> NodeID {
        NodeID(unchecked: Array(Insecure.SHA1.hash(data: data)))
    }

    /// The XOR metric (BEP 5): `self ^ other`, compared as a big-endian number.
    public func distance(to other: NodeID) -> NodeID {
        NodeID(unchecked: zip(bytes, other.bytes).map { $0 ^ $1 })
    }

    /// Leading zero bits: 160 for identical IDs. The k-bucket of `other` is `160 - 1 - this`.
    public func commonPrefixLength(with other: NodeID) -> Int {
        for index in 0..<Self.byteCount {
            let difference = bytes[index] ^ other.bytes[index]
            if difference != 0 { return index * 8 + difference.leadingZeroBitCount }
        }
        return Self.byteCount * 8
    }

    /// Whether `a` is closer to `self` than `b` is.
    public func isCloser(_ a: NodeID, than b: NodeID) -> Bool {
        for index in 0..<Self.byteCount {
            let x = a.bytes[index] ^ bytes[index]
            let y = b.bytes[index] ^ bytes[index]
            if x != y { return x < y }
        }
        return false
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public var hex: String { bytes.map { String(format2: $0) }.joined() }
    public var description: String { hex }

    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 40 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 40, by: 2) {
            guard let byte = UInt8(String(decoding: utf8[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }
}

extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef".utf8)
        self = String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]], as: UTF8.self)
    }
}

/// An IPv4 or IPv6 address and a UDP (or TCP) port, in the DHT's compact form.
public struct DHTEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public let address: [UInt8]
    public let port: UInt16

    public init?(address: [UInt8], port: UInt16) {
        guard address.count == 4 || address.count == 16 else { return nil }
        self.address = address
        self.port = port
    }

    public var isIPv6: Bool { address.count == 16 }

    /// "Compact IP-address/port info" (BEP 5, BEP 32): address then port, big-endian.
    public var compact: [UInt8] { address + [UInt8(port >> 8), UInt8(port & 0xff)] }

    public init?(compact: some Collection<UInt8>) {
        let bytes = Array(compact)
        guard bytes.count == 6 || bytes.count == 18 else { return nil }
        self.init(address: Array(bytes.dropLast(2)), port: UInt16(bytes[bytes.count - 2]) << 8 | UInt16(bytes[bytes.count - 1]))
    }

    public init?(_ socketAddress: SocketAddress) {
        guard let port = socketAddress.port, port > 0, port <= 65535 else { return nil }
        switch socketAddress {
        case .v4(let v4):
            let value = UInt32(bigEndian: v4.address.sin_addr.s_addr)
            self.init(address: [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)], port: UInt16(port))
        case .v6(let v6):
            var storage = v6.address.sin6_addr
            let bytes = withUnsafeBytes(of: &storage) { Array($0) }
            // An IPv4-mapped address is the IPv4 node it stands for.
            if bytes.prefix(10).allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
                self.init(address: Array(bytes[12...]), port: UInt16(port))
            } else {
                self.init(address: bytes, port: UInt16(port))
            }
        default:
            return nil
        }
    }

    public var socketAddress: SocketAddress? {
        try? SocketAddress(ipAddress: host, port: Int(port))
    }

    /// The address as text, as `SocketAddress.ipAddress` spells it (IPv6 compressed).
    public var host: String {
        if let text = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: address), port: Int(port)).ipAddress { return text }
        if address.count == 4 { return address.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for index in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(address[index]) << 8 | UInt16(address[index + 1]), radix: 16))
        }
        return groups.joined(separator: ":")
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Loopback, private (RFC 1918, RFC 4193), link-local and unspecified addresses: BEP 42 does
    /// not bind node IDs to them, and they are no use to nodes on the Internet.
    public var isLocal: Bool {
        if address.count == 4 {
            let (a, b) = (address[0], address[1])
            return a == 10 || a == 127 || a == 0 || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168) || (a == 169 && b == 254)
                || (a == 100 && (64...127).contains(b))
        }
        if address.prefix(15).allSatisfy({ $0 == 0 }) { return true }
        return address[0] & 0xfe == 0xfc || (address[0] == 0xfe && address[1] & 0xc0 == 0x80)
    }
}

/// A node as the DHT passes it around: its ID and where it answers.
public struct DHTNodeInfo: Sendable, Hashable {
    public let id: NodeID
    public let endpoint: DHTEndpoint

    public init(id: NodeID, endpoint: DHTEndpoint) {
        self.id = id
        self.endpoint = endpoint
    }

    /// "Compact node info": ID then compact endpoint (26 bytes for IPv4, 38 for IPv6).
    public var compact: [UInt8] { id.bytes + endpoint.compact }

    /// Nodes packed back to back; `nil` when the length is not a whole number of them.
    static func list(compact bytes: [UInt8], ipv6: Bool) -> [DHTNodeInfo]? {
        let size = ipv6 ? 38 : 26
        guard bytes.count % size == 0 else { return nil }
        var nodes: [DHTNodeInfo] = []
        for start in stride(from: 0, to: bytes.count, by: size) {
            guard let id = NodeID(bytes[start..<start + 20]), let endpoint = DHTEndpoint(compact: bytes[start + 20..<start + size]) else { return nil }
            nodes.append(DHTNodeInfo(id: id, endpoint: endpoint))
        }
        return nodes
    }
}
