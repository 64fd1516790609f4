import NIOCore
import PeerDistHashing

/// What nodes say to each other on the LAN's multicast group to find content without
/// configuration: "who holds the content with this discovery key?" and the answers.
///
/// ```
/// "PDDS" version(1) type(1) nonce(8) body
/// type 1  WhoHas      discovery key(32)
/// type 2  Have        discovery key(32) TCP port(2)
/// ```
/// The discovery key derives from the content ID, so an eavesdropper learns only that some
/// nodes share some content, never what or how to read it. Answers go by unicast to the asker.
public enum DiscoveryMessage: Hashable, Sendable {
    case whoHas(nonce: UInt64, discoveryKey: HashValue)
    case have(nonce: UInt64, discoveryKey: HashValue, port: UInt16)

    static let magic = Array("PDDS".utf8)
    static let version: UInt8 = 1

    public func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeBytes(Self.magic)
        buffer.writeInteger(Self.version)
        switch self {
        case .whoHas(let nonce, let key):
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(nonce)
            key.withUnsafeBytes { _ = buffer.writeBytes($0) }
        case .have(let nonce, let key, let port):
            buffer.writeInteger(UInt8(2))
            buffer.writeInteger(nonce)
            key.withUnsafeBytes { _ = buffer.writeBytes($0) }
            buffer.writeInteger(port)
        }
        return buffer
    }

    /// `nil` for anything that is not a well-formed message of a known type: datagrams from
    /// strangers are dropped, never answered with an error.
    public init?(decoding datagram: ByteBuffer) {
        var buffer = datagram
        guard buffer.readBytes(length: 4) == Self.magic, buffer.readInteger(as: UInt8.self) == Self.version,
              let type = buffer.readInteger(as: UInt8.self), let nonce = buffer.readInteger(as: UInt64.self),
              let key = buffer.readBytes(length: 32)
        else { return nil }
        switch type {
        case 1 where buffer.readableBytes == 0:
            self = .whoHas(nonce: nonce, discoveryKey: HashValue(key))
        case 2:
            guard let port = buffer.readInteger(as: UInt16.self), port != 0, buffer.readableBytes == 0 else { return nil }
            self = .have(nonce: nonce, discoveryKey: HashValue(key), port: port)
        default:
            return nil
        }
    }
}
