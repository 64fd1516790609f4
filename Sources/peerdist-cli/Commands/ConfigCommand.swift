import ArgumentParser
import Foundation
import PeerDist
import PeerDistCommandSupport
import PeerDistOperations

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "The configuration of `serve`: peerdist.toml in the data directory, overridden by the command line.",
        subcommands: [ConfigShowCommand.self]
    )
}

struct ConfigShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print every `serve` option's effective value and where it came from (default, file:line, or flag).",
        discussion: "Options of `serve` given after these (e.g. `peerdist config show --quota 1GiB`) are shown as the flags they would be."
    )

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The node's data directory (default: $PEERDIST_DATA_DIR, else $XDG_DATA_HOME/peerdist).", valueName: "dir"))
    var dataDirectory: String?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Options of `serve`, as they would be given to it.", valueName: "serve-option"))
    var serveArguments: [String] = []

    struct Entry: Encodable {
        var key: String
        var value: String?
        /// `default`, `file` or `flag`.
        var source: String
        var file: String?
        var line: Int?
    }

    struct Report: Encodable {
        var file: String
        var fileExists: Bool
        var settings: [Entry]

        enum CodingKeys: String, CodingKey {
            case file, settings
            case fileExists = "file_exists"
        }
    }

    func run() throws {
        let commandLine = (dataDirectory.map { ["--data-dir", $0] } ?? []) + serveArguments
        let resolved: ServeConfiguration
        do {
            resolved = try ServeConfiguration(commandLine: commandLine)
        } catch {
            throw CommandFailure(error.description)
        }
        // The flags are checked as `serve` would check them.
        do {
            _ = try ServeCommand.parse(resolved.arguments)
        } catch {
            throw CommandFailure(ServeCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)")
        }
        let entries = resolved.values.map { value in
            switch value.source {
            case .defaultValue: Entry(key: value.option.key, value: value.value, source: "default")
            case .flag: Entry(key: value.option.key, value: value.value, source: "flag")
            case .file(let path, let line): Entry(key: value.option.key, value: value.value, source: "file", file: path, line: line)
            }
        }
        if json {
            try Output.json(Report(file: resolved.filePath, fileExists: resolved.file != nil, settings: entries))
            return
        }
        Output.line("# \(resolved.filePath)\(resolved.file == nil ? " (none)" : "")")
        let width = entries.map(\.key.count).max() ?? 0
        let valueWidth = min(40, resolved.values.map { Self.quoted($0.value).count }.max() ?? 0)
        for (entry, value) in zip(entries, resolved.values) {
            let shown = Self.quoted(value.value)
            let key = entry.key.padding(toLength: width, withPad: " ", startingAt: 0)
            let padded = shown.count < valueWidth ? shown.padding(toLength: valueWidth, withPad: " ", startingAt: 0) : shown
            Output.line("\(key) = \(padded)  # \(value.source.text)")
        }
    }

    /// A value as TOML would write it: unset options show as a comment-like dash.
    private static func quoted(_ value: String?) -> String {
        guard let value else { return "-" }
        if let flag = Bool(value) { return ConfigurationFile.Setting.Value.boolean(flag).tomlText }
        if let number = Int(value) { return ConfigurationFile.Setting.Value.integer(number).tomlText }
        return ConfigurationFile.Setting.Value.string(value).tomlText
    }
}
