import Crypto

/// A BEP 44 item as stored and served: immutable (the target is SHA-1 of the value) or mutable
/// (signed by an Ed25519 key, the target SHA-1 of the key and salt).
public struct DHTItem: Sendable, Hashable {
    public var value: Bencode
    /// Mutable items only.
    public var key: [UInt8]?
    public var signature: [UInt8]?
    public var seq: Int64?
    public var salt: [UInt8]

    public init(value: Bencode, key: [UInt8]? = nil, signature: [UInt8]? = nil, seq: Int64? = nil, salt: [UInt8] = []) {
        self.value = value
        self.key = key
        self.signature = signature
        self.seq = seq
        self.salt = salt
    }

    public var isMutable: Bool { key != nil }

    /// Where the item lives on the DHT.
    public var target: NodeID {
        if let key { return Self.mutableTarget(key: key, salt: salt) }
        return NodeID.sha1(value.encoded)
    }

    /// `SHA-1(k ‖ salt)` (BEP 44).
    public static func mutableTarget(key: [UInt8], salt: [UInt8]) -> NodeID {
        NodeID.sha1(key + salt)
    }

    /// What a mutable item's signature covers (BEP 44): the bencoded `salt` (when there is one),
    /// `seq` and `v` entries, concatenated without the enclosing dictionary.
    public static func signedBytes(value: Bencode, seq: Int64, salt: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        if !salt.isEmpty {
            bytes += Array("4:salt".utf8)
            Bencode.appendString(salt, to: &bytes)
        }
        bytes += Array("3:seqi\(seq)e1:v".utf8)
        value.encode(into: &bytes)
        return bytes
    }

    /// Whether a mutable item's signature is its key's over its fields; immutable items have none to check.
    public var hasValidSignature: Bool {
        guard let key else { return true }
        guard let signature, let seq, let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key) else { return false }
        return publicKey.isValidSignature(signature, for: Self.signedBytes(value: value, seq: seq, salt: salt))
    }

    /// A mutable item signed by `sign` (an Ed25519 signer of `key`).
    public static func signed(value: Bencode, seq: Int64, salt: [UInt8], key: [UInt8], sign: ([UInt8]) -> [UInt8]) -> DHTItem {
        DHTItem(value: value, key: key, signature: sign(signedBytes(value: value, seq: seq, salt: salt)), seq: seq, salt: salt)
    }

    var putArguments: PutArguments {
        PutArguments(value: value, key: key, signature: signature, seq: seq, salt: isMutable && !salt.isEmpty ? salt : nil)
    }

    init(_ put: PutArguments) {
        self.init(value: put.value, key: put.key, signature: put.signature, seq: put.seq, salt: put.salt ?? [])
    }
}
