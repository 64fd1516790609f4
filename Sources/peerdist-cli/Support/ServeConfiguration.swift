import ArgumentParser
import Foundation
import PeerDist
import PeerDistOperations

/// `serve`'s effective options: the defaults, then the configuration file in the data directory
/// (`peerdist.toml`), then the command line, each winning over the one before.
///
/// The options are defined once, in `ServeCommand` and its option groups. The file's keys are
/// their long names, read from the command's own description, and a file setting becomes the
/// arguments it stands for, placed before the command line's (the last value of an option wins
/// in argument-parser), so the file's values are parsed and validated by the same code as flags.
struct ServeConfiguration {
    /// One option of `serve`, as the command describes itself.
    struct Option: Equatable {
        enum Kind: String { case option, flag }
        var key: String
        var kind: Kind
        var names: [String]
        var defaultValue: String?
        var abstract: String?
    }

    /// Where a value came from.
    enum Source: Equatable {
        case defaultValue
        case file(path: String, line: Int)
        case flag

        var text: String {
            switch self {
            case .defaultValue: "default"
            case .file(let path, let line): "\(path):\(line)"
            case .flag: "flag"
            }
        }
    }

    struct Value: Equatable {
        var option: Option
        var value: String?
        var source: Source
    }

    /// Options that cannot be set in the file: the file lives in the data directory.
    static let commandLineOnly: Set<String> = ["data-dir", "help", "version"]

    /// `serve`'s options, in the order of its help.
    static let options: [Option] = {
        guard let data = ServeCommand._dumpHelp().data(using: .utf8),
              let info = try? JSONDecoder().decode(DumpedHelp.self, from: data)
        else { return [] }
        return (info.command.arguments ?? []).compactMap { argument in
            guard let kind = Option.Kind(rawValue: argument.kind),
                  let names = argument.names,
                  let long = names.first(where: { $0.kind == "long" })?.name,
                  !commandLineOnly.contains(long)
            else { return nil }
            let spelled = names.map { $0.kind == "short" ? "-\($0.name)" : "--\($0.name)" }
            return Option(key: long, kind: kind, names: spelled, defaultValue: argument.defaultValue, abstract: argument.abstract)
        }
    }()

    let file: ConfigurationFile?
    let filePath: String
    /// The file's settings as arguments, to go before the command line's.
    let fileArguments: [String]
    let commandLine: [String]

    /// Reads the configuration file of the data directory `commandLine` names (or the default
    /// one) and checks every setting in it against `serve`'s options.
    init(commandLine: [String]) throws(ConfigurationFileError) {
        self.commandLine = commandLine
        let directory = DataDirectory.resolve(Self.dataDirectory(in: commandLine))
        filePath = directory.path + "/" + ConfigurationFile.fileName
        file = try ConfigurationFile.load(path: filePath)
        var arguments: [String] = []
        for setting in file?.settings ?? [] {
            arguments += try Self.arguments(for: setting, in: filePath)
        }
        fileArguments = arguments
        // Each value parsed alone first, so that a bad one is named with its line…
        for setting in file?.settings ?? [] {
            let alone = try Self.arguments(for: setting, in: filePath)
            do {
                _ = try ServeCommand.parse(alone)
            } catch {
                // …unless it only fails for want of another option (the file may give that one too).
                guard (try? ServeCommand.parse(arguments)) == nil else { continue }
                var message = Self.oneLine(ServeCommand.message(for: error))
                // argument-parser's own refusal names the option but not what it takes.
                if message.contains("is invalid for"), !message.contains("Please provide"),
                   let abstract = Self.options.first(where: { $0.key == setting.key })?.abstract {
                    message += "; expected: \(abstract)"
                }
                throw ConfigurationFileError(path: filePath, line: setting.line, message: "\(setting.key): \(message)")
            }
        }
        do {
            _ = try ServeCommand.parse(arguments)
        } catch {
            throw ConfigurationFileError(path: filePath, line: nil, message: Self.oneLine(ServeCommand.message(for: error)))
        }
    }

    /// The arguments `serve` runs with.
    var arguments: [String] { fileArguments + commandLine }

    /// Every option's value and where it came from.
    var values: [Value] {
        Self.options.map { option in
            if let given = Self.commandLineValue(of: option, in: commandLine) {
                return Value(option: option, value: given, source: .flag)
            }
            if let file, let setting = file.setting(option.key) {
                return Value(option: option, value: setting.value.argument, source: .file(path: file.path, line: setting.line))
            }
            return Value(option: option, value: option.defaultValue ?? (option.kind == .flag ? "false" : nil), source: .defaultValue)
        }
    }

    private static func arguments(for setting: ConfigurationFile.Setting, in path: String) throws(ConfigurationFileError) -> [String] {
        guard let option = options.first(where: { $0.key == setting.key }) else {
            let hint = setting.key == "data-dir" ? " (the file is in the data directory; give --data-dir on the command line)" : ""
            throw ConfigurationFileError(
                path: path, line: setting.line,
                message: "unknown setting '\(setting.key)'\(hint); expected one of \(options.map(\.key).joined(separator: ", "))")
        }
        switch (option.kind, setting.value) {
        case (.flag, .boolean(let on)):
            return on ? ["--\(option.key)"] : []
        case (.flag, let value):
            throw ConfigurationFileError(path: path, line: setting.line, message: "\(setting.key): expected true or false, found \(value.typeName)")
        case (.option, .boolean):
            throw ConfigurationFileError(
                path: path, line: setting.line, message: "\(setting.key): expected a value for --\(option.key), found a boolean")
        case (.option, let value):
            return ["--\(option.key)", value.argument]
        }
    }

    /// The value the command line gives `option`, the last one if several (`true` for a flag).
    static func commandLineValue(of option: Option, in arguments: [String]) -> String? {
        var found: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            for name in option.names {
                if argument == name {
                    if option.kind == .flag {
                        found = "true"
                    } else if index + 1 < arguments.count {
                        found = arguments[index + 1]
                        index += 1
                    }
                } else if name.hasPrefix("--"), argument.hasPrefix(name + "="), option.kind == .option {
                    found = String(argument.dropFirst(name.count + 1))
                }
            }
            index += 1
        }
        return found
    }

    static func dataDirectory(in arguments: [String]) -> String? {
        commandLineValue(of: Option(key: "data-dir", kind: .option, names: ["--data-dir"]), in: arguments)
    }

    /// argument-parser's message without its usage lines.
    private static func oneLine(_ message: String) -> String {
        message.split(separator: "\n").first.map(String.init)?.replacingOccurrences(of: "Error: ", with: "") ?? message
    }
}

/// The part of argument-parser's description of a command (`--experimental-dump-help`, the
/// format its manual and completion generators read) that names the options.
private struct DumpedHelp: Decodable {
    struct Command: Decodable {
        var arguments: [Argument]?
    }

    struct Argument: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }

        var kind: String
        var names: [Name]?
        var defaultValue: String?
        var abstract: String?
    }

    var command: Command
}
