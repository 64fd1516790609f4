import Foundation

/// The settings of a node's configuration file (`peerdist.toml` in its data directory): TOML,
/// one top-level `key = value` per setting, each key the long name of a `serve` option.
///
/// This type only reads the file and says where each value is; what the keys mean, and whether
/// a value suits its option, is decided by the command that owns the options.
public struct ConfigurationFile: Sendable {
    /// The file's name in the data directory.
    public static let fileName = "peerdist.toml"
    /// A settings file is a few lines; anything near this is not one.
    public static let maximumSize = 1 << 20

    /// One `key = value`, with the line it is on (from 1).
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

            /// The value as TOML writes it, so that reading it back gives the same value.
            public var tomlText: String {
                switch self {
                case .string(let text): Self.quoted(text)
                case .integer(let number): "\(number)"
                // Swift's shortest form that reads back exactly ("2.5", "1e-05", "inf", "nan") is TOML's too.
                case .float(let number): "\(number)"
                case .boolean(let flag): "\(flag)"
                }
            }

            /// A "basic" TOML string: backslashes, quotes and control characters escaped.
            private static func quoted(_ text: String) -> String {
                var result = "\""
                for scalar in text.unicodeScalars {
                    switch scalar {
                    case "\\": result += "\\\\"
                    case "\"": result += "\\\""
                    case "\n": result += "\\n"
                    case "\t": result += "\\t"
                    case "\r": result += "\\r"
                    case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                        let hex = String(scalar.value, radix: 16, uppercase: true)
                        result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    default: result.unicodeScalars.append(scalar)
                    }
                }
                return result + "\""
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
        guard data.count <= maximumSize else {
            throw ConfigurationFileError(path: path, line: nil, message: "is \(data.count) bytes; a configuration file is at most \(maximumSize)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationFileError(path: path, line: nil, message: "is not UTF-8 text, as TOML must be")
        }
        return try ConfigurationFile(path: path, text: text)
    }

    /// Parses `text` as the file at `path` (which only names it in errors).
    public init(path: String, text: String) throws(ConfigurationFileError) {
        self.path = path
        var reader = TOMLSettingsReader(text)
        do {
            settings = try reader.read()
        } catch {
            throw ConfigurationFileError(path: path, line: error.line, message: error.isSyntax ? "not TOML: \(error.message)" : error.message)
        }
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
        "\(path)\(line.flatMap { $0 > 0 ? ":\($0)" : nil } ?? ""): \(message)"
    }
}
