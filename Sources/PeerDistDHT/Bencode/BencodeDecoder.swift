/// Decodes bencoding from outside (a UDP datagram, a stored item) without trusting it: every
/// length is checked against what remains before anything is allocated, nesting and sizes have
/// limits, and the input must be exactly one value.
///
/// Integers must be canonical (no leading zeros, no `-0`) and dictionary keys strictly ascending,
/// so that a decoded value encodes back to the same bytes: a BEP 44 signature is over bytes, and
/// two spellings of one value would let a forger reorder what was signed.
public struct BencodeDecoder: Sendable {
    public struct Limits: Sendable {
        /// Lists and dictionaries inside each other, at most.
        public var maximumDepth = 16
        /// Longest byte string.
        public var maximumStringLength = 8192
        /// Largest whole input.
        public var maximumInputLength = 65536
        /// Values (of any kind) in the whole input.
        public var maximumValues = 4096

        public init() {}

        /// What a KRPC datagram may hold: a UDP payload, and BEP 44's 1000-byte values.
        public static let datagram: Limits = {
            var limits = Limits()
            limits.maximumInputLength = 4096
            limits.maximumStringLength = 2048
            limits.maximumValues = 1024
            return limits
        }()
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The one value that `input` encodes.
    public func decode(_ input: some Collection<UInt8>) throws(BencodeError) -> Bencode {
        let bytes = Array(input)
        guard bytes.count <= limits.maximumInputLength else {
            throw BencodeError(.tooLarge, offset: 0, "the input is \(bytes.count) bytes, more than \(limits.maximumInputLength)")
        }
        var reader = Reader(bytes: bytes, limits: limits)
        let value = try reader.value(depth: 0)
        guard reader.position == bytes.count else {
            throw BencodeError(.trailingBytes, offset: reader.position, "\(bytes.count - reader.position) bytes follow the value")
        }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        let limits: Limits
        var position = 0
        var values = 0

        mutating func value(depth: Int) throws(BencodeError) -> Bencode {
            values += 1
            guard values <= limits.maximumValues else {
                throw BencodeError(.tooLarge, offset: position, "more than \(limits.maximumValues) values")
            }
            guard position < bytes.count else { throw BencodeError(.truncated, offset: position, "a value is missing") }
            switch bytes[position] {
            case UInt8(ascii: "i"):
                position += 1
                let value = try integer(until: UInt8(ascii: "e"))
                return .integer(value)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .bytes(try string())
            case UInt8(ascii: "l"):
                try enter(depth)
                position += 1
                var list: [Bencode] = []
                while true {
                    guard position < bytes.count else { throw BencodeError(.truncated, offset: position, "a list is not closed") }
                    if bytes[position] == UInt8(ascii: "e") { break }
                    list.append(try value(depth: depth + 1))
                }
                position += 1
                return .list(list)
            case UInt8(ascii: "d"):
                try enter(depth)
                position += 1
                var entries: [[UInt8]: Bencode] = [:]
                var previous: [UInt8]?
                while true {
                    guard position < bytes.count else { throw BencodeError(.truncated, offset: position, "a dictionary is not closed") }
                    if bytes[position] == UInt8(ascii: "e") { break }
                    let keyOffset = position
                    guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) else {
                        throw BencodeError(.wrongType, offset: position, "a dictionary key must be a byte string")
                    }
                    let key = try string()
                    if let previous, !previous.lexicographicallyPrecedes(key) {
                        throw BencodeError(.unsortedKeys, offset: keyOffset, "dictionary keys must be unique and in ascending order")
                    }
                    previous = key
                    values += 1
                    entries[key] = try value(depth: depth + 1)
                }
                position += 1
                return .dictionary(entries)
            default:
                throw BencodeError(.unexpectedByte, offset: position, "byte \(bytes[position]) begins no value")
            }
        }

        private func enter(_ depth: Int) throws(BencodeError) {
            guard depth < limits.maximumDepth else {
                throw BencodeError(.tooDeep, offset: position, "nested deeper than \(limits.maximumDepth)")
            }
        }

        /// Digits up to `terminator` (an optional `-` for integers), canonical.
        private mutating func integer(until terminator: UInt8) throws(BencodeError) -> Int64 {
            let start = position
            var negative = false
            if position < bytes.count, bytes[position] == UInt8(ascii: "-"), terminator == UInt8(ascii: "e") {
                negative = true
                position += 1
            }
            let digitsStart = position
            var magnitude: UInt64 = 0
            while position < bytes.count, bytes[position] != terminator {
                let byte = bytes[position]
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                    throw BencodeError(.badInteger, offset: position, "byte \(byte) in a number")
                }
                guard position - digitsStart < 19 else { throw BencodeError(.badInteger, offset: start, "a number of more than 19 digits") }
                magnitude = magnitude * 10 + UInt64(byte - UInt8(ascii: "0"))
                position += 1
            }
            guard position < bytes.count else { throw BencodeError(.truncated, offset: start, "a number is not terminated") }
            let digits = position - digitsStart
            guard digits > 0 else { throw BencodeError(.badInteger, offset: start, "a number without digits") }
            if digits > 1, bytes[digitsStart] == UInt8(ascii: "0") {
                throw BencodeError(.badInteger, offset: start, "a number with a leading zero")
            }
            if negative, magnitude == 0 { throw BencodeError(.badInteger, offset: start, "negative zero") }
            position += 1
            // 19 digits fit in UInt64; Int64 holds up to 9223372036854775807.
            guard magnitude <= UInt64(Int64.max) else { throw BencodeError(.badInteger, offset: start, "a number beyond 64 bits") }
            return negative ? -Int64(magnitude) : Int64(magnitude)
        }

        private mutating func string() throws(BencodeError) -> [UInt8] {
            let start = position
            let length = try integer(until: UInt8(ascii: ":"))
            guard length <= limits.maximumStringLength else {
                throw BencodeError(.tooLarge, offset: start, "a string of \(length) bytes, more than \(limits.maximumStringLength)")
            }
            guard Int(length) <= bytes.count - position else {
                throw BencodeError(.truncated, offset: start, "a string of \(length) bytes, only \(bytes.count - position) remain")
            }
            let string = Array(bytes[position..<position + Int(length)])
            position += Int(length)
            return string
        }
    }
}

/// Why bencoded input was refused, and at which byte.
public struct BencodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case truncated, trailingBytes, tooDeep, tooLarge, badInteger, unexpectedByte, wrongType, unsortedKeys
    }

    public let kind: Kind
    /// Byte offset into the input where the fault was found.
    public let offset: Int
    public let reason: String

    public init(_ kind: Kind, offset: Int, _ reason: String) {
        self.kind = kind
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "bencoding, byte \(offset): \(reason)" }
}
