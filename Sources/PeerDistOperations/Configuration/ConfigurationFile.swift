import Foundation
import TOMLKit

/// The settings of a node's configuration file (`peerdist.toml` in its data directory): TOML,
/// one top-level `key = value` per setting, each key the long name of a `serve` option.
///
/// This type only reads the file and says where each value is; what the keys mean, and whether
/// a value suits its option, is decided by the command that owns the options.
public struct ConfigurationFile: Sendable {
    /// The file's name in the data directory.
    public static let fileName = "peerdist.toml"

    /// One `key = value`, with the line it is on (from 1; 0 when the key is written in a way the
    /// line finder does not follow, with escapes in a quoted key).
    public struct Setting: Sendable, Equatable {
        public enum Value: Sendable, Equatable {
            case string(String)
            case integer(Int)
            case float(Double)
            case boolean(Bool)

            /// The value as it would be written on the command line.
            public var argument: String {
                switch self {
                case .string(let text): text
                case .integer(let number): "\(number)"
                case .float(let number): "\(number)"
                case .boolean(let flag): "\(flag)"
                }
            }

            /// How TOML calls the value's type, for error messages.
            public var typeName: String {
                switch self {
                case .string: "a string"
                case .integer: "an integer"
                case .float: "a float"
                case .boolean: "a boolean"
                }
            }
        }

        public var key: String
        public var value: Value
        public var line: Int

        public init(key: String, value: Value, line: Int) {
            self.key = key
            self.value = value
            self.line = line
        }
    }

    public let path: String
    /// In the order of the file.
    public let settings: [Setting]

    /// Reads the file at `path`; `nil` when there is none.
    public static func load(path: String) throws(ConfigurationFileError) -> ConfigurationFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationFileError(path: path, line: nil, message: "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationFileError(path: path, line: nil, message: "is not UTF-8 text, as TOML must be")
        }
        return try ConfigurationFile(path: path, text: text)
    }

    /// Parses `text` as the file at `path` (which only names it in errors).
    public init(path: String, text: String) throws(ConfigurationFileError) {
        self.path = path
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationFileError(path: path, line: error.source.begin.line, message: "not TOML: \(error.description)")
        } catch {
            throw ConfigurationFileError(path: path, line: nil, message: "not TOML: \(error)")
        }
        let lines = KeyLines(text: text)
        var settings: [Setting] = []
        for key in table.keys {
            let line = lines.line(of: key)
            guard let found = table[key] else { continue }
            let value: Setting.Value
            switch found.type {
            case .string: value = .string(found.string ?? "")
            case .int: value = .integer(found.int ?? 0)
            case .double: value = .float(found.double ?? 0)
            case .bool: value = .boolean(found.bool ?? false)
            case .table:
                throw ConfigurationFileError(path: path, line: line, message: "[\(key)]: expected settings at the top level, not in a table")
            default:
                throw ConfigurationFileError(path: path, line: line, message: "\(key): expected a string, a number or a boolean, found \(found.type)")
            }
            settings.append(Setting(key: key, value: value, line: line ?? 0))
        }
        self.settings = settings.sorted { $0.line < $1.line }
    }

    public func setting(_ key: String) -> Setting? {
        settings.first { $0.key == key }
    }
}

/// A configuration file that cannot be used: where, and what was expected. Its description is
/// the one line the command prints, `path:line: message`.
public struct ConfigurationFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var line: Int?
    public var message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        // Line 0: a key whose line could not be found (written with escapes, say).
        "\(path)\(line.flatMap { $0 > 0 ? ":\($0)" : nil } ?? ""): \(message)"
    }
}

/// Where each top-level key is defined: TOMLKit reports lines for parse errors only, so the
/// lines of a parsed file's keys are found by reading it again, up to its first table header.
private struct KeyLines {
    private var lines: [String: Int] = [:]

    init(text: String) {
        // Keys after a table header belong to that table.
        var inTable = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("[") {
                // A table header: its name is the key of the table at the top level.
                let name = line.dropFirst().prefix { $0 != "]" && $0 != "." }.trimmingCharacters(in: .whitespaces)
                if lines[Self.unquoted(name)] == nil { lines[Self.unquoted(name)] = index + 1 }
                inTable = true
                continue
            }
            guard !inTable, let equals = line.firstIndex(of: "="), !line.hasPrefix("#") else { continue }
            let key = Self.unquoted(line[..<equals].prefix { $0 != "." }.trimmingCharacters(in: .whitespaces))
            if lines[key] == nil { lines[key] = index + 1 }
        }
    }

    private static func unquoted(_ key: String) -> String {
        guard key.count >= 2, let first = key.first, first == "\"" || first == "'", key.last == first else { return key }
        return String(key.dropFirst().dropLast())
    }

    func line(of key: String) -> Int? { lines[key] }
}
