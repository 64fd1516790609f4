import Foundation

/// Printable forms of a content ID: a `peerdist:` URI, bare base32 and hex.
///
/// The URI carries base32 (RFC 4648 alphabet, lower-case, no padding; 52 characters) because it
/// is short, case-insensitive and survives being read aloud or typed. Hex is accepted everywhere.
extension ContentID {
    public static let uriScheme = "peerdist"
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// `peerdist:<base32>`.
    public var uri: String { "\(Self.uriScheme):\(base32)" }

    public var base32: String {
        var text = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        value.withUnsafeBytes { bytes in
            for byte in bytes {
                buffer = buffer << 8 | UInt32(byte)
                bits += 8
                while bits >= 5 {
                    text.append(Self.alphabet[Int(buffer >> UInt32(bits - 5) & 31)])
                    bits -= 5
                }
            }
        }
        if bits > 0 { text.append(Self.alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
        return String(decoding: text, as: UTF8.self)
    }

    /// Parses a `peerdist:` URI, 52 base32 characters or 64 hex digits; `nil` for anything else.
    public init?(parsing text: String) {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if body.lowercased().hasPrefix(Self.uriScheme + ":") {
            body = body.dropFirst(Self.uriScheme.count + 1)
        }
        if body.count == 64, let bytes = Hex.decode(body) {
            self.init(bytes: bytes)
        } else if body.count == 52, let bytes = Self.decodeBase32(body.lowercased()) {
            self.init(bytes: bytes)
        } else {
            return nil
        }
    }

    private static func decodeBase32(_ text: String) -> [UInt8]? {
        var bytes = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        // 52 characters carry 260 bits: the 4 left over must be zero for a canonical encoding.
        guard bytes.count == byteCount, buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return bytes
    }
}
