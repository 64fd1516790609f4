/// A bencoded value (BEP 3): the encoding every KRPC message and BEP 44 item is written in.
///
/// Dictionaries keep their keys as bytes and encode them sorted, as BEP 3 requires, so
/// `encode(decode(x))` is the canonical form of `x` and a BEP 44 signature over `v` checks
/// against what the signer made.
public enum Bencode: Sendable, Hashable {
    case integer(Int64)
    case bytes([UInt8])
    case list([Bencode])
    case dictionary([[UInt8]: Bencode])

    public static func string(_ text: String) -> Bencode { .bytes(Array(text.utf8)) }

    /// The value under `key` when this is a dictionary.
    public subscript(key: String) -> Bencode? {
        guard case .dictionary(let entries) = self else { return nil }
        return entries[Array(key.utf8)]
    }

    public var bytesValue: [UInt8]? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }

    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    public var listValue: [Bencode]? {
        if case .list(let values) = self { return values }
        return nil
    }

    /// The canonical encoding: dictionary keys sorted as raw bytes.
    public var encoded: [UInt8] {
        var output: [UInt8] = []
        encode(into: &output)
        return output
    }

    public func encode(into output: inout [UInt8]) {
        switch self {
        case .integer(let value):
            output.append(UInt8(ascii: "i"))
            output += Array(String(value).utf8)
            output.append(UInt8(ascii: "e"))
        case .bytes(let bytes):
            Self.appendString(bytes, to: &output)
        case .list(let values):
            output.append(UInt8(ascii: "l"))
            for value in values { value.encode(into: &output) }
            output.append(UInt8(ascii: "e"))
        case .dictionary(let entries):
            output.append(UInt8(ascii: "d"))
            for key in entries.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                Self.appendString(key, to: &output)
                entries[key]?.encode(into: &output)
            }
            output.append(UInt8(ascii: "e"))
        }
    }

    static func appendString(_ bytes: [UInt8], to output: inout [UInt8]) {
        output += Array(String(bytes.count).utf8)
        output.append(UInt8(ascii: ":"))
        output += bytes
    }
}

extension Bencode: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, Bencode)...) {
        var entries: [[UInt8]: Bencode] = [:]
        for (key, value) in elements { entries[Array(key.utf8)] = value }
        self = .dictionary(entries)
    }
}
