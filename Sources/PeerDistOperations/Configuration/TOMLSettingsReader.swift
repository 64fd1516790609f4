/// Reads the part of TOML 1.0 that a settings file uses: top-level `key = value` lines whose
/// values are strings (all four kinds), integers, floats or booleans, with comments.
///
/// Everything else TOML allows (tables, dotted keys, arrays, inline tables, dates) is recognised
/// and refused by name, so a file is either read whole or refused with the line at fault; it is
/// never half read. The reader works on bytes, in one pass, and keeps the line of every key.
struct TOMLSettingsReader {
    typealias Setting = ConfigurationFile.Setting

    /// What was wrong, and on which line (from 1).
    struct Failure: Error, Equatable {
        var line: Int
        var message: String
        /// False for TOML that is well formed but not a setting (a table, an array, a date).
        var isSyntax: Bool
    }

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// The settings in the order of the file.
    mutating func read() throws(Failure) -> [Setting] {
        var settings: [Setting] = []
        var lineOfKey: [String: Int] = [:]
        // A byte order mark is allowed before the first line.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while let byte = peek() {
            switch byte {
            case .space, .tab:
                index += 1
            case .lineFeed, .carriageReturn:
                try skipNewline()
            case .hash:
                try skipComment()
            case .openBracket:
                let start = line
                index += 1
                let isArrayOfTables = peek() == .openBracket
                if isArrayOfTables { index += 1 }
                skipSpaces()
                let name = try readKey().joined(separator: ".")
                let shown = isArrayOfTables ? "[[\(name)]]" : "[\(name)]"
                throw Failure(line: start, message: "\(shown): expected settings at the top level, not in a table", isSyntax: false)
            default:
                let start = line
                let path = try readKey()
                let key = path.joined(separator: ".")
                skipSpaces()
                guard peek() == .equals else {
                    throw syntax("expected '=' after the key \(key)")
                }
                index += 1
                skipSpaces()
                guard path.count == 1 else {
                    throw Failure(line: start, message: "\(key): expected settings at the top level, not in a table", isSyntax: false)
                }
                let value = try readValue(of: key)
                try endOfLine(after: key)
                if let earlier = lineOfKey[key] {
                    throw Failure(line: start, message: "\(key): set twice, on lines \(earlier) and \(start)", isSyntax: true)
                }
                lineOfKey[key] = start
                settings.append(Setting(key: key, value: value, line: start))
            }
        }
        return settings
    }

    // MARK: Lines, spaces and comments

    private func peek(_ ahead: Int = 0) -> UInt8? {
        index + ahead < bytes.count ? bytes[index + ahead] : nil
    }

    private func syntax(_ message: String) -> Failure {
        Failure(line: line, message: message, isSyntax: true)
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == .space || byte == .tab { index += 1 }
    }

    /// A line feed, or a carriage return and a line feed.
    private mutating func skipNewline() throws(Failure) {
        if peek() == .carriageReturn {
            guard peek(1) == .lineFeed else { throw syntax("a carriage return that is not followed by a line feed") }
            index += 1
        }
        index += 1
        line += 1
    }

    private mutating func skipComment() throws(Failure) {
        index += 1
        while let byte = peek(), byte != .lineFeed {
            if byte == .carriageReturn && peek(1) == .lineFeed { return }
            guard !Self.isControl(byte) else { throw syntax("a control character (\(Self.hex(byte))) in a comment") }
            index += 1
        }
    }

    /// After a value: spaces, perhaps a comment, then the end of the line or of the file.
    private mutating func endOfLine(after key: String) throws(Failure) {
        skipSpaces()
        if peek() == .hash { try skipComment() }
        guard let byte = peek() else { return }
        guard byte == .lineFeed || byte == .carriageReturn else {
            throw syntax("expected the end of the line after the value of \(key)")
        }
        try skipNewline()
    }

    // MARK: Keys

    /// A key and its dotted parts: bare (`A-Za-z0-9_-`), "basic" or 'literal'.
    private mutating func readKey() throws(Failure) -> [String] {
        var parts: [String] = []
        while true {
            switch peek() {
            case .quote?:
                index += 1
                parts.append(try readString(closedBy: .quote, multiline: false))
            case .apostrophe?:
                index += 1
                parts.append(try readString(closedBy: .apostrophe, multiline: false))
            default:
                let start = index
                while let byte = peek(), Self.isBareKey(byte) { index += 1 }
                guard index > start else {
                    throw syntax(peek().map { "expected a key name, found \(Self.describe($0))" } ?? "expected a key name at the end of the file")
                }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipSpaces()
            guard peek() == .dot else { return parts }
            index += 1
            skipSpaces()
        }
    }

    // MARK: Values

    private mutating func readValue(of key: String) throws(Failure) -> Setting.Value {
        guard let byte = peek() else { throw syntax("expected a value for \(key) at the end of the file") }
        switch byte {
        case .quote:
            let multiline = peek(1) == .quote && peek(2) == .quote
            index += multiline ? 3 : 1
            return .string(try readString(closedBy: .quote, multiline: multiline))
        case .apostrophe:
            let multiline = peek(1) == .apostrophe && peek(2) == .apostrophe
            index += multiline ? 3 : 1
            return .string(try readString(closedBy: .apostrophe, multiline: multiline))
        case .openBracket:
            throw notAScalar(key, "an array")
        case .openBrace:
            throw notAScalar(key, "an inline table")
        case .lineFeed, .carriageReturn, .hash:
            throw syntax("expected a value for \(key)")
        default:
            let token = readToken()
            switch token {
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            case "inf", "+inf": return .float(.infinity)
            case "-inf": return .float(-.infinity)
            case "nan", "+nan", "-nan": return .float(.nan)
            default: break
            }
            if Self.looksLikeDateOrTime(token) { throw notAScalar(key, "a date or time") }
            if let integer = try integer(token, of: key) { return .integer(integer) }
            if let float = try float(token, of: key) { return .float(float) }
            throw syntax("\(key): '\(token.prefix(40))' is not a TOML value (strings are quoted)")
        }
    }

    private func notAScalar(_ key: String, _ found: String) -> Failure {
        Failure(line: line, message: "\(key): expected a string, a number or a boolean, found \(found)", isSyntax: false)
    }

    /// An unquoted value: everything up to a space, a comment, a separator or the line's end.
    private mutating func readToken() -> String {
        let start = index
        while let byte = peek(), byte > .space, byte != .hash, byte != .comma, byte != 0x7F,
              byte != .closeBracket, byte != .closeBrace {
            index += 1
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private static func looksLikeDateOrTime(_ token: String) -> Bool {
        let utf8 = Array(token.utf8)
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { $0 < utf8.count && isDigit(utf8[$0]) } }
        let date = digits(0..<4) && utf8.count > 4 && utf8[4] == .minus
        let time = digits(0..<2) && utf8.count > 2 && utf8[2] == .colon
        return date || time
    }

    /// Decimal (`+12_345`), or `0x`, `0o`, `0b` without a sign; `nil` when the token is not an integer's shape.
    private func integer(_ token: String, of key: String) throws(Failure) -> Int? {
        var utf8 = Substring(token).utf8[...]
        let radixes: [(prefix: String, radix: Int)] = [("0x", 16), ("0o", 8), ("0b", 2)]
        if let (prefix, radix) = radixes.first(where: { token.hasPrefix($0.prefix) }) {
            utf8 = utf8.dropFirst(prefix.utf8.count)
            guard let digits = Self.digitsWithUnderscores(utf8, radix: radix) else {
                throw syntax("\(key): '\(token.prefix(40))' is not a base-\(radix) integer")
            }
            guard let value = Int(digits, radix: radix) else {
                throw syntax("\(key): \(token.prefix(40)) does not fit in 64 bits")
            }
            return value
        }
        var sign = ""
        if let first = utf8.first, first == .plus || first == .minus {
            sign = first == .minus ? "-" : ""
            utf8 = utf8.dropFirst()
        }
        guard let digits = Self.digitsWithUnderscores(utf8, radix: 10) else { return nil }
        guard digits == "0" || !digits.hasPrefix("0") else {
            throw syntax("\(key): '\(token.prefix(40))' has a leading zero, which TOML does not allow")
        }
        guard let value = Int(sign + digits) else {
            throw syntax("\(key): \(token.prefix(40)) does not fit in 64 bits")
        }
        return value
    }

    /// `[+-]int(.frac)?([eE][+-]?exp)?` with at least a fraction or an exponent; `nil` when the
    /// token is not a float's shape either.
    private func float(_ token: String, of key: String) throws(Failure) -> Double? {
        var rest = Substring(token).utf8[...]
        var text = ""
        if let first = rest.first, first == .plus || first == .minus {
            if first == .minus { text = "-" }
            rest = rest.dropFirst()
        }
        let exponentAt = rest.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        let mantissa = rest[..<(exponentAt ?? rest.endIndex)]
        let dot = mantissa.firstIndex(of: .dot)
        guard let whole = Self.digitsWithUnderscores(mantissa[..<(dot ?? mantissa.endIndex)], radix: 10),
              whole == "0" || !whole.hasPrefix("0") else { return nil }
        text += whole
        if let dot {
            guard let fraction = Self.digitsWithUnderscores(mantissa[mantissa.index(after: dot)...], radix: 10) else { return nil }
            text += "." + fraction
        }
        if let exponentAt {
            var exponent = rest[rest.index(after: exponentAt)...]
            var sign = ""
            if let first = exponent.first, first == .plus || first == .minus {
                sign = first == .minus ? "-" : ""
                exponent = exponent.dropFirst()
            }
            guard let digits = Self.digitsWithUnderscores(exponent, radix: 10) else { return nil }
            text += "e" + sign + digits
        }
        guard dot != nil || exponentAt != nil else { return nil }
        guard let value = Double(text), value.isFinite else {
            throw syntax("\(key): \(token.prefix(40)) is out of a float's range")
        }
        return value
    }

    /// The digits without their underscores, each of which must sit between two digits.
    private static func digitsWithUnderscores(_ utf8: Substring.UTF8View.SubSequence, radix: Int) -> String? {
        var digits: [UInt8] = []
        var previousWasDigit = false
        for byte in utf8 {
            if byte == .underscore {
                guard previousWasDigit else { return nil }
                previousWasDigit = false
                continue
            }
            guard isDigit(byte, radix: radix) else { return nil }
            digits.append(byte)
            previousWasDigit = true
        }
        guard previousWasDigit else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }

    // MARK: Strings

    /// After the opening quote(s) of a string: "basic" (`"`, with escapes) or 'literal' (`'`,
    /// without), each perhaps """multi-line""".
    private mutating func readString(closedBy delimiter: UInt8, multiline: Bool) throws(Failure) -> String {
        let hasEscapes = delimiter == .quote
        var text: [UInt8] = []
        if multiline { try trimFirstNewline() }
        while true {
            guard let byte = peek() else { throw syntax("a string that is not closed") }
            switch byte {
            case delimiter:
                if !multiline {
                    index += 1
                    return String(decoding: text, as: UTF8.self)
                }
                if let run = try closingRun(of: delimiter) {
                    text += repeatElement(delimiter, count: run)
                    return String(decoding: text, as: UTF8.self)
                }
                text.append(byte)
                index += 1
            case .backslash where hasEscapes:
                index += 1
                if multiline, try skipLineEndingBackslash() { continue }
                try readEscape(into: &text)
            case .lineFeed, .carriageReturn:
                guard multiline else { throw syntax("a string that is not closed on its line") }
                try skipNewline()
                text.append(.lineFeed)
            default:
                guard !Self.isControl(byte) else {
                    throw syntax("a control character (\(Self.hex(byte))) in a string\(hasEscapes ? "; write it as an escape" : "")")
                }
                text.append(byte)
                index += 1
            }
        }
    }

    /// A newline straight after the opening delimiter of a multi-line string is not part of it.
    private mutating func trimFirstNewline() throws(Failure) {
        if peek() == .lineFeed || peek() == .carriageReturn { try skipNewline() }
    }

    /// At a quote inside a multi-line string: when three or more follow, the string ends, and up
    /// to two quotes before the last three belong to it (`""""` ends with one). Returns how many
    /// belong to the string, or `nil` when fewer than three are here.
    private mutating func closingRun(of quote: UInt8) throws(Failure) -> Int? {
        var run = 0
        while peek(run) == quote { run += 1 }
        guard run >= 3 else { return nil }
        guard run <= 5 else { throw syntax("too many quotes (\(run)) at the end of a multi-line string") }
        index += run
        return run - 3
    }

    /// A backslash that is the last thing on its line joins the next non-blank text to it.
    /// Returns false, consuming nothing, when the backslash is an escape.
    private mutating func skipLineEndingBackslash() throws(Failure) -> Bool {
        var ahead = 0
        while let byte = peek(ahead), byte == .space || byte == .tab { ahead += 1 }
        guard let end = peek(ahead), end == .lineFeed || end == .carriageReturn else { return false }
        index += ahead
        while let byte = peek() {
            if byte == .space || byte == .tab {
                index += 1
            } else if byte == .lineFeed || byte == .carriageReturn {
                try skipNewline()
            } else {
                break
            }
        }
        return true
    }

    /// After a backslash: `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`.
    private mutating func readEscape(into text: inout [UInt8]) throws(Failure) {
        guard let byte = peek() else { throw syntax("a string that is not closed") }
        index += 1
        if let replacement = Self.simpleEscapes[byte] {
            text.append(replacement)
            return
        }
        let width: Int
        switch byte {
        case UInt8(ascii: "u"): width = 4
        case UInt8(ascii: "U"): width = 8
        default: throw syntax("an unknown escape in a string: a backslash, then \(Self.describe(byte))")
        }
        guard index + width <= bytes.count,
              bytes[index..<index + width].allSatisfy({ Self.isDigit($0, radix: 16) }),
              let code = UInt32(String(decoding: bytes[index..<index + width], as: UTF8.self), radix: 16),
              let scalar = Unicode.Scalar(code) else {
            throw syntax("an escape \\\(Character(Unicode.Scalar(byte))) that is not \(width) hexadecimal digits of a Unicode scalar value")
        }
        index += width
        text += Array(String(Character(scalar)).utf8)
    }

    private static let simpleEscapes: [UInt8: UInt8] = [
        UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): .tab, UInt8(ascii: "n"): .lineFeed, UInt8(ascii: "f"): 0x0C,
        UInt8(ascii: "r"): .carriageReturn, .quote: .quote, .backslash: .backslash,
    ]

    // MARK: Bytes

    private static func isBareKey(_ byte: UInt8) -> Bool {
        isDigit(byte) || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")) || byte == .underscore || byte == .minus
    }

    private static func isDigit(_ byte: UInt8, radix: Int = 10) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0")) < radix
        case UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): radix == 16
        default: false
        }
    }

    /// TOML allows tab but no other control character in strings and comments.
    private static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != .tab) || byte == 0x7F
    }

    private static func hex(_ byte: UInt8) -> String {
        "0x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
    }

    private static func describe(_ byte: UInt8) -> String {
        byte > .space && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : hex(byte)
    }
}

extension UInt8 {
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let lineFeed = UInt8(ascii: "\n")
    fileprivate static let carriageReturn = UInt8(ascii: "\r")
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let apostrophe = UInt8(ascii: "'")
    fileprivate static let hash = UInt8(ascii: "#")
    fileprivate static let equals = UInt8(ascii: "=")
    fileprivate static let dot = UInt8(ascii: ".")
    fileprivate static let comma = UInt8(ascii: ",")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let plus = UInt8(ascii: "+")
    fileprivate static let minus = UInt8(ascii: "-")
    fileprivate static let underscore = UInt8(ascii: "_")
    fileprivate static let backslash = UInt8(ascii: "\\")
    fileprivate static let openBracket = UInt8(ascii: "[")
    fileprivate static let closeBracket = UInt8(ascii: "]")
    fileprivate static let openBrace = UInt8(ascii: "{")
    fileprivate static let closeBrace = UInt8(ascii: "}")
}
