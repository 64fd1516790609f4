import NIOCore
import PeerDistHashing
import PeerDistWire

/// What nodes say to each other on the LAN's multicast group to find content without
/// configuration: "who holds the content with this discovery key?" and the answers.
///
/// ```
/// "PDDS" version(1) type(1) nonce(8) body
/// type 1  WhoHas      discovery key(32)
/// type 2  Have        discovery key(32) TCP port(2)
/// type 3  Hello       identity(32) TCP port(2) name length(1) name signature(64)
/// type 4  Bye         identity(32) signature(64)
/// type 5  NearMe      a signed `NearMeAnnouncement` (People Near Me), checked by its receiver
/// type 6  WhoIs       name key(32)
/// type 7  NameIs      name key(32) identity(32) record length(2) record signature(64)
/// ```
/// The discovery key derives from the content ID, so an eavesdropper learns only that some
/// nodes share some content, never what or how to read it. Answers go by unicast to the asker.
public enum DiscoveryMessage: Hashable, Sendable {
    case whoHas(nonce: UInt64, discoveryKey: HashValue)
    case have(nonce: UInt64, discoveryKey: HashValue, port: UInt16)
    /// A node announcing itself, signed with its identity so no one can speak for it.
    case hello(nonce: UInt64, identity: PeerKey, port: UInt16, name: String, signature: [UInt8])
    /// A node leaving.
    case bye(nonce: UInt64, identity: PeerKey, signature: [UInt8])
    /// A person's People Near Me announcement, carried unread: `Collaboration` checks it.
    case nearMe(nonce: UInt64, announcement: [UInt8])
    /// Who on the link registered the peer name with this key (`PeerName.linkKey`)?
    case whoIs(nonce: UInt64, nameKey: HashValue)
    /// A registration of a peer name (a bencoded `NameRecord` with the name under `n`), signed by
    /// the registering node; for a secured name the resolver checks that this key is its authority.
    case nameIs(nonce: UInt64, nameKey: HashValue, identity: PeerKey, record: [UInt8], signature: [UInt8])

    /// A record's largest size: a 4 KiB payload, a 150-character name, a comment and endpoints.
    static let maximumNameRecord = 6000

    /// The largest announcement carried: two names of 255 four-byte characters and the rest.
    static let maximumAnnouncement = 2200

    static let maximumNameLength = 64

    /// A signed Hello for `identity`.
    package static func hello(from identity: NodeIdentity, port: UInt16, name: String) -> DiscoveryMessage {
        let nonce = UInt64.random(in: .min ... .max)
        // Whole characters only: a cut one would be repaired into more bytes than the limit.
        var name = name
        while name.utf8.count > maximumNameLength { name.removeLast() }
        return .hello(nonce: nonce, identity: identity.publicKey, port: port, name: name,
                      signature: identity.sign(helloSignedPart(nonce: nonce, identity: identity.publicKey, port: port, name: name)))
    }

    package static func bye(from identity: NodeIdentity) -> DiscoveryMessage {
        let nonce = UInt64.random(in: .min ... .max)
        return .bye(nonce: nonce, identity: identity.publicKey, signature: identity.sign(byeSignedPart(nonce: nonce, identity: identity.publicKey)))
    }

    static func helloSignedPart(nonce: UInt64, identity: PeerKey, port: UInt16, name: String) -> [UInt8] {
        Array("PeerDist hello v1".utf8) + withUnsafeBytes(of: nonce.bigEndian) { Array($0) } + identity.bytes
            + withUnsafeBytes(of: port.bigEndian) { Array($0) } + Array(name.utf8)
    }

    /// A signed NameIs answering the query with `nonce`.
    package static func nameIs(from identity: NodeIdentity, nonce: UInt64, nameKey: HashValue, record: [UInt8]) -> DiscoveryMessage {
        .nameIs(nonce: nonce, nameKey: nameKey, identity: identity.publicKey, record: record,
                signature: identity.sign(nameIsSignedPart(nonce: nonce, nameKey: nameKey, identity: identity.publicKey, record: record)))
    }

    static func nameIsSignedPart(nonce: UInt64, nameKey: HashValue, identity: PeerKey, record: [UInt8]) -> [UInt8] {
        Array("PeerDist name v1".utf8) + withUnsafeBytes(of: nonce.bigEndian) { Array($0) } + nameKey.bytes + identity.bytes + record
    }

    static func byeSignedPart(nonce: UInt64, identity: PeerKey) -> [UInt8] {
        Array("PeerDist bye v1".utf8) + withUnsafeBytes(of: nonce.bigEndian) { Array($0) } + identity.bytes
    }

    /// Whether a Hello or Bye carries its sender's valid signature; other messages carry none.
    package var isAuthentic: Bool {
        switch self {
        case .hello(let nonce, let identity, let port, let name, let signature):
            identity.isValidSignature(signature, for: Self.helloSignedPart(nonce: nonce, identity: identity, port: port, name: name))
        case .bye(let nonce, let identity, let signature):
            identity.isValidSignature(signature, for: Self.byeSignedPart(nonce: nonce, identity: identity))
        case .nameIs(let nonce, let nameKey, let identity, let record, let signature):
            identity.isValidSignature(signature, for: Self.nameIsSignedPart(nonce: nonce, nameKey: nameKey, identity: identity, record: record))
        case .whoHas, .have, .nearMe, .whoIs:
            true
        }
    }

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
        case .hello(let nonce, let identity, let port, let name, let signature):
            buffer.writeInteger(UInt8(3))
            buffer.writeInteger(nonce)
            buffer.writeBytes(identity.bytes)
            buffer.writeInteger(port)
            buffer.writeInteger(UInt8(name.utf8.count))
            buffer.writeBytes(Array(name.utf8))
            buffer.writeBytes(signature)
        case .bye(let nonce, let identity, let signature):
            buffer.writeInteger(UInt8(4))
            buffer.writeInteger(nonce)
            buffer.writeBytes(identity.bytes)
            buffer.writeBytes(signature)
        case .nearMe(let nonce, let announcement):
            buffer.writeInteger(UInt8(5))
            buffer.writeInteger(nonce)
            buffer.writeBytes(announcement)
        case .whoIs(let nonce, let key):
            buffer.writeInteger(UInt8(6))
            buffer.writeInteger(nonce)
            key.withUnsafeBytes { _ = buffer.writeBytes($0) }
        case .nameIs(let nonce, let key, let identity, let record, let signature):
            buffer.writeInteger(UInt8(7))
            buffer.writeInteger(nonce)
            key.withUnsafeBytes { _ = buffer.writeBytes($0) }
            buffer.writeBytes(identity.bytes)
            buffer.writeInteger(UInt16(record.count))
            buffer.writeBytes(record)
            buffer.writeBytes(signature)
        }
        return buffer
    }

    /// `nil` for anything that is not a well-formed message of a known type: datagrams from
    /// strangers are dropped, never answered with an error.
    public init?(decoding datagram: ByteBuffer) {
        var buffer = datagram
        guard buffer.readBytes(length: 4) == Self.magic, buffer.readInteger(as: UInt8.self) == Self.version,
              let type = buffer.readInteger(as: UInt8.self), let nonce = buffer.readInteger(as: UInt64.self)
        else { return nil }
        if type == 5 {
            guard buffer.readableBytes <= Self.maximumAnnouncement, let announcement = buffer.readBytes(length: buffer.readableBytes) else { return nil }
            self = .nearMe(nonce: nonce, announcement: announcement)
            return
        }
        guard let key = buffer.readBytes(length: 32) else { return nil }
        switch type {
        case 1 where buffer.readableBytes == 0:
            self = .whoHas(nonce: nonce, discoveryKey: HashValue(key))
        case 2:
            guard let port = buffer.readInteger(as: UInt16.self), port != 0, buffer.readableBytes == 0 else { return nil }
            self = .have(nonce: nonce, discoveryKey: HashValue(key), port: port)
        case 3:
            guard let port = buffer.readInteger(as: UInt16.self), port != 0, let length = buffer.readInteger(as: UInt8.self),
                  Int(length) <= Self.maximumNameLength, let nameBytes = buffer.readBytes(length: Int(length)),
                  // Repaired UTF-8 would be another name than the one signed, and re-encode longer.
                  let name = String(validating: nameBytes, as: UTF8.self),
                  let signature = buffer.readBytes(length: 64), buffer.readableBytes == 0
            else { return nil }
            self = .hello(nonce: nonce, identity: PeerKey(key), port: port, name: name, signature: signature)
        case 4:
            guard let signature = buffer.readBytes(length: 64), buffer.readableBytes == 0 else { return nil }
            self = .bye(nonce: nonce, identity: PeerKey(key), signature: signature)
        case 6 where buffer.readableBytes == 0:
            self = .whoIs(nonce: nonce, nameKey: HashValue(key))
        case 7:
            guard let identity = buffer.readBytes(length: 32), let length = buffer.readInteger(as: UInt16.self),
                  Int(length) <= Self.maximumNameRecord, let record = buffer.readBytes(length: Int(length)),
                  let signature = buffer.readBytes(length: 64), buffer.readableBytes == 0
            else { return nil }
            self = .nameIs(nonce: nonce, nameKey: HashValue(key), identity: PeerKey(identity), record: record, signature: signature)
        default:
            return nil
        }
    }
}
