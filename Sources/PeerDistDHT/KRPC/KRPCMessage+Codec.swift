/// Encoding and decoding of KRPC messages, with BEP 5's keys. The decoder checks every field's
/// type and size (IDs 20 bytes, keys 32, signatures 64, salts ≤ 64, values ≤ 1000 bytes
/// encoded) and refuses the message otherwise; unknown keys are ignored, as BEP 5 allows.
extension KRPCMessage {
    public static let maximumTransactionIDLength = 32
    public static let maximumTokenLength = 64
    /// BEP 44.
    public static let maximumSaltLength = 64
    public static let maximumValueLength = 1000
    /// Peers in one `values` list, at most; a response holding more is refused.
    public static let maximumValues = 200

    public var encoded: [UInt8] { bencode.encoded }

    public var bencode: Bencode {
        var message: [[UInt8]: Bencode] = [Self.key("t"): .bytes(transactionID)]
        if let clientVersion { message[Self.key("v")] = .bytes(clientVersion) }
        if let observedAddress { message[Self.key("ip")] = .bytes(observedAddress.compact) }
        if readOnly { message[Self.key("ro")] = .integer(1) }
        switch body {
        case .query(let query):
            message[Self.key("y")] = .string("q")
            // As received for an unknown method: its name need not be UTF-8.
            if case .unknown(let method, _) = query { message[Self.key("q")] = .bytes(method) } else { message[Self.key("q")] = .string(query.method) }
            message[Self.key("a")] = query.arguments
        case .response(let response):
            message[Self.key("y")] = .string("r")
            message[Self.key("r")] = response.bencode
        case .error(let code, let text):
            message[Self.key("y")] = .string("e")
            message[Self.key("e")] = .list([.integer(code), .string(text)])
        }
        return .dictionary(message)
    }

    static func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Decodes one datagram.
    public init(decoding datagram: some Collection<UInt8>) throws(KRPCError) {
        let value: Bencode
        do {
            value = try BencodeDecoder(limits: .datagram).decode(datagram)
        } catch {
            throw KRPCError(.bencoding(error), transactionID: nil)
        }
        try self.init(value)
    }

    public init(_ value: Bencode) throws(KRPCError) {
        guard case .dictionary = value else { throw KRPCError(.malformed("the message is not a dictionary"), transactionID: nil) }
        guard let transactionID = value["t"]?.bytesValue, transactionID.count <= Self.maximumTransactionIDLength else {
            throw KRPCError(.malformed("t must be a byte string of at most \(Self.maximumTransactionIDLength) bytes"), transactionID: nil)
        }
        var fields = FieldCheck(transactionID: transactionID)
        let kind = try fields.bytes(value["y"], "y")
        let body: Body
        switch kind {
        case Self.key("q"):
            let method = try fields.bytes(value["q"], "q")
            guard let arguments = value["a"], case .dictionary = arguments else { throw fields.failure("a must be a dictionary") }
            body = .query(try KRPCQuery(method: method, arguments: arguments, fields: &fields))
        case Self.key("r"):
            guard let response = value["r"], case .dictionary = response else { throw fields.failure("r must be a dictionary") }
            body = .response(try KRPCResponse(response, fields: &fields))
        case Self.key("e"):
            guard let list = value["e"]?.listValue, list.count >= 2, let code = list[0].integerValue, let text = list[1].bytesValue else {
                throw fields.failure("e must be a list of a code and a message")
            }
            body = .error(code: code, message: String(decoding: text, as: UTF8.self))
        default:
            throw fields.failure("y must be q, r or e")
        }
        var observed: DHTEndpoint?
        if let ip = value["ip"] {
            guard let bytes = ip.bytesValue, let endpoint = DHTEndpoint(compact: bytes) else { throw fields.failure("ip must be a compact address") }
            observed = endpoint
        }
        let version = value["v"]?.bytesValue.map { Array($0.prefix(16)) }
        self.init(
            transactionID: transactionID, body: body, clientVersion: version, observedAddress: observed,
            readOnly: value["ro"]?.integerValue == 1)
    }
}

/// Field checks that name the field and carry the transaction ID, so a bad query can be
/// answered with error 203.
struct FieldCheck {
    let transactionID: [UInt8]

    func failure(_ reason: String) -> KRPCError {
        KRPCError(.malformed(reason), transactionID: transactionID)
    }

    func bytes(_ value: Bencode?, _ name: String, maximum: Int = 64) throws(KRPCError) -> [UInt8] {
        guard let bytes = value?.bytesValue else { throw failure("\(name) must be a byte string") }
        guard bytes.count <= maximum else { throw failure("\(name) is \(bytes.count) bytes, more than \(maximum)") }
        return bytes
    }

    func id(_ value: Bencode?, _ name: String) throws(KRPCError) -> NodeID {
        guard let bytes = value?.bytesValue, let id = NodeID(bytes) else { throw failure("\(name) must be 20 bytes") }
        return id
    }

    func optionalBytes(_ value: Bencode?, _ name: String, exactly count: Int? = nil, maximum: Int = 64) throws(KRPCError) -> [UInt8]? {
        guard let value else { return nil }
        guard let bytes = value.bytesValue else { throw failure("\(name) must be a byte string") }
        if let count, bytes.count != count { throw failure("\(name) must be \(count) bytes, not \(bytes.count)") }
        guard bytes.count <= maximum else { throw failure("\(name) is \(bytes.count) bytes, more than \(maximum)") }
        return bytes
    }

    func optionalInteger(_ value: Bencode?, _ name: String) throws(KRPCError) -> Int64? {
        guard let value else { return nil }
        guard let integer = value.integerValue else { throw failure("\(name) must be an integer") }
        return integer
    }

    func want(_ value: Bencode?) throws(KRPCError) -> WantedFamilies {
        guard let value else { return [] }
        guard let list = value.listValue, list.count <= 4 else { throw failure("want must be a short list") }
        var families: WantedFamilies = []
        for entry in list {
            switch entry.bytesValue {
            case KRPCMessage.key("n4"): families.insert(.ipv4)
            case KRPCMessage.key("n6"): families.insert(.ipv6)
            default: throw failure("want lists only n4 and n6")
            }
        }
        return families
    }

    func value(_ value: Bencode?) throws(KRPCError) -> Bencode {
        guard let value else { throw failure("v is missing") }
        guard value.encoded.count <= KRPCMessage.maximumValueLength else {
            throw KRPCError(.valueTooLarge, transactionID: transactionID)
        }
        return value
    }
}

extension KRPCQuery {
    init(method: [UInt8], arguments a: Bencode, fields: inout FieldCheck) throws(KRPCError) {
        let id = try fields.id(a["id"], "id")
        switch String(decoding: method, as: UTF8.self) {
        case "ping":
            self = .ping(id: id)
        case "find_node":
            self = .findNode(id: id, target: try fields.id(a["target"], "target"), want: try fields.want(a["want"]))
        case "get_peers":
            self = .getPeers(id: id, infoHash: try fields.id(a["info_hash"], "info_hash"), want: try fields.want(a["want"]))
        case "announce_peer":
            let infoHash = try fields.id(a["info_hash"], "info_hash")
            guard let port = a["port"]?.integerValue, (0...65535).contains(port) else { throw fields.failure("port must be 0 to 65535") }
            let token = try fields.bytes(a["token"], "token", maximum: KRPCMessage.maximumTokenLength)
            let implied = try fields.optionalInteger(a["implied_port"], "implied_port") ?? 0
            self = .announcePeer(id: id, infoHash: infoHash, port: UInt16(port), token: token, impliedPort: implied != 0)
        case "get":
            self = .get(
                id: id, target: try fields.id(a["target"], "target"), seq: try fields.optionalInteger(a["seq"], "seq"),
                want: try fields.want(a["want"]))
        case "put":
            let token = try fields.bytes(a["token"], "token", maximum: KRPCMessage.maximumTokenLength)
            var item = PutArguments(value: try fields.value(a["v"]))
            item.key = try fields.optionalBytes(a["k"], "k", exactly: 32)
            item.signature = try fields.optionalBytes(a["sig"], "sig", exactly: 64)
            item.seq = try fields.optionalInteger(a["seq"], "seq")
            item.cas = try fields.optionalInteger(a["cas"], "cas")
            if let salt = a["salt"] {
                guard let bytes = salt.bytesValue else { throw fields.failure("salt must be a byte string") }
                guard bytes.count <= KRPCMessage.maximumSaltLength else { throw KRPCError(.saltTooLarge, transactionID: fields.transactionID) }
                item.salt = bytes
            }
            // A mutable item has all three of key, signature and sequence number, or none.
            let mutableFields = [item.key != nil, item.signature != nil, item.seq != nil]
            guard mutableFields.allSatisfy({ $0 }) || mutableFields.allSatisfy({ !$0 }) else {
                throw fields.failure("a mutable put needs k, sig and seq together")
            }
            guard item.key != nil || (item.salt == nil && item.cas == nil) else { throw fields.failure("salt and cas are for mutable items") }
            self = .put(id: id, token: token, item: item)
        default:
            self = .unknown(method: method, id: id)
        }
    }

    var arguments: Bencode {
        var a: [[UInt8]: Bencode] = [KRPCMessage.key("id"): .bytes(senderID.bytes)]
        func want(_ families: WantedFamilies) {
            var list: [Bencode] = []
            if families.contains(.ipv4) { list.append(.string("n4")) }
            if families.contains(.ipv6) { list.append(.string("n6")) }
            if !list.isEmpty { a[KRPCMessage.key("want")] = .list(list) }
        }
        switch self {
        case .ping, .unknown:
            break
        case .findNode(_, let target, let families):
            a[KRPCMessage.key("target")] = .bytes(target.bytes)
            want(families)
        case .getPeers(_, let infoHash, let families):
            a[KRPCMessage.key("info_hash")] = .bytes(infoHash.bytes)
            want(families)
        case .announcePeer(_, let infoHash, let port, let token, let implied):
            a[KRPCMessage.key("info_hash")] = .bytes(infoHash.bytes)
            a[KRPCMessage.key("port")] = .integer(Int64(port))
            a[KRPCMessage.key("token")] = .bytes(token)
            if implied { a[KRPCMessage.key("implied_port")] = .integer(1) }
        case .get(_, let target, let seq, let families):
            a[KRPCMessage.key("target")] = .bytes(target.bytes)
            if let seq { a[KRPCMessage.key("seq")] = .integer(seq) }
            want(families)
        case .put(_, let token, let item):
            a[KRPCMessage.key("token")] = .bytes(token)
            a[KRPCMessage.key("v")] = item.value
            if let key = item.key { a[KRPCMessage.key("k")] = .bytes(key) }
            if let signature = item.signature { a[KRPCMessage.key("sig")] = .bytes(signature) }
            if let seq = item.seq { a[KRPCMessage.key("seq")] = .integer(seq) }
            if let salt = item.salt { a[KRPCMessage.key("salt")] = .bytes(salt) }
            if let cas = item.cas { a[KRPCMessage.key("cas")] = .integer(cas) }
        }
        return .dictionary(a)
    }
}

extension KRPCResponse {
    init(_ r: Bencode, fields: inout FieldCheck) throws(KRPCError) {
        self.init(id: try fields.id(r["id"], "id"))
        if let nodes = r["nodes"] {
            guard let bytes = nodes.bytesValue, let list = DHTNodeInfo.list(compact: bytes, ipv6: false) else {
                throw fields.failure("nodes must be compact IPv4 node info")
            }
            self.nodes = list
        }
        if let nodes6 = r["nodes6"] {
            guard let bytes = nodes6.bytesValue, let list = DHTNodeInfo.list(compact: bytes, ipv6: true) else {
                throw fields.failure("nodes6 must be compact IPv6 node info")
            }
            self.nodes6 = list
        }
        if let values = r["values"] {
            guard let list = values.listValue, list.count <= KRPCMessage.maximumValues else {
                throw fields.failure("values must be a list of at most \(KRPCMessage.maximumValues) peers")
            }
            for entry in list {
                guard let bytes = entry.bytesValue, let peer = DHTEndpoint(compact: bytes) else { throw fields.failure("values holds a peer that is not compact") }
                self.values.append(peer)
            }
        }
        token = try fields.optionalBytes(r["token"], "token", maximum: KRPCMessage.maximumTokenLength)
        if r["v"] != nil { value = try fields.value(r["v"]) }
        key = try fields.optionalBytes(r["k"], "k", exactly: 32)
        signature = try fields.optionalBytes(r["sig"], "sig", exactly: 64)
        seq = try fields.optionalInteger(r["seq"], "seq")
    }

    var bencode: Bencode {
        var r: [[UInt8]: Bencode] = [KRPCMessage.key("id"): .bytes(id.bytes)]
        if !nodes.isEmpty { r[KRPCMessage.key("nodes")] = .bytes(nodes.flatMap(\.compact)) }
        if !nodes6.isEmpty { r[KRPCMessage.key("nodes6")] = .bytes(nodes6.flatMap(\.compact)) }
        if !values.isEmpty { r[KRPCMessage.key("values")] = .list(values.map { .bytes($0.compact) }) }
        if let token { r[KRPCMessage.key("token")] = .bytes(token) }
        if let value { r[KRPCMessage.key("v")] = value }
        if let key { r[KRPCMessage.key("k")] = .bytes(key) }
        if let signature { r[KRPCMessage.key("sig")] = .bytes(signature) }
        if let seq { r[KRPCMessage.key("seq")] = .integer(seq) }
        return .dictionary(r)
    }
}

/// Why a datagram was not taken as a KRPC message. `transactionID` is set when the message got
/// far enough to be answered with an error.
public struct KRPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case bencoding(BencodeError)
        case malformed(String)
        case valueTooLarge
        case saltTooLarge
    }

    public let kind: Kind
    public let transactionID: [UInt8]?

    public init(_ kind: Kind, transactionID: [UInt8]?) {
        self.kind = kind
        self.transactionID = transactionID
    }

    /// The BEP 5/BEP 44 error code to answer with.
    public var code: Int64 {
        switch kind {
        case .valueTooLarge: KRPCMessage.ErrorCode.valueTooLarge
        case .saltTooLarge: KRPCMessage.ErrorCode.saltTooLarge
        default: KRPCMessage.ErrorCode.protocolError
        }
    }

    public var description: String {
        switch kind {
        case .bencoding(let error): "KRPC: \(error)"
        case .malformed(let reason): "KRPC: \(reason)"
        case .valueTooLarge: "KRPC: v is more than \(KRPCMessage.maximumValueLength) bytes encoded"
        case .saltTooLarge: "KRPC: salt is more than \(KRPCMessage.maximumSaltLength) bytes"
        }
    }
}
