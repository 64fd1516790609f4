import ArgumentParser
import Foundation

/// A manual page (man(7) macros, section 1) for a command and all its subcommands, written from
/// argument-parser's own description of them (`_dumpHelp()`, the JSON its `generate-manual`
/// plugin reads through `--experimental-dump-help`), so that it says what `--help` says.
///
/// Made by the binary itself rather than by the plugin: the plugin builds the package again to
/// run it, which an install from a built binary, or a test running under `swift test`, cannot do.
package enum ManualPage {
    package static func render<Command: ParsableCommand>(_ command: Command.Type, date: Date = Date()) throws -> String {
        let description = try JSONDecoder().decode(Description.self, from: Data(command._dumpHelp().utf8))
        return render(description.command, date: date)
    }

    static func render(_ root: CommandInfo, date: Date) -> String {
        let day = ISO8601DateFormatter.string(from: date, timeZone: TimeZone(identifier: "UTC") ?? .current, formatOptions: [.withFullDate])
        var page = [
            #".\" Generated from the command definitions by `\#(root.commandName) manual`; do not edit."#,
            ".TH \(root.commandName.uppercased()) 1 \"\(day)\" \"\(root.commandName)\" \"User Commands\"",
            ".SH NAME",
            "\(escape(root.commandName)) \\- \(escape(root.abstract ?? ""))",
            ".SH SYNOPSIS",
            ".B \(escape(root.commandName))",
            "\\fIcommand\\fR [\\fIoptions\\fR]",
        ]
        if let discussion = root.discussion { page += [".SH DESCRIPTION", paragraph(discussion)] }
        if let options = root.arguments?.filter(\.shouldDisplay), !options.isEmpty {
            page += [".SH OPTIONS"] + options.flatMap(argument)
        }
        page.append(".SH COMMANDS")
        for command in root.subcommands ?? [] where command.shouldDisplay && command.commandName != "help" {
            page += section(command, path: [root.commandName])
        }
        return page.joined(separator: "\n") + "\n"
    }

    private static func section(_ command: CommandInfo, path: [String]) -> [String] {
        let name = (path + [command.commandName]).joined(separator: " ")
        var lines = [".SS \(escape(name))"]
        if let abstract = command.abstract { lines.append(paragraph(abstract)) }
        if let discussion = command.discussion { lines += [".PP", paragraph(discussion)] }
        let shown = (command.arguments ?? []).filter { $0.shouldDisplay && $0.names?.first?.name != "help" }
        if !shown.isEmpty { lines += [".RS"] + shown.flatMap(argument) + [".RE"] }
        for sub in command.subcommands ?? [] where sub.shouldDisplay && sub.commandName != "help" {
            lines += section(sub, path: path + [command.commandName])
        }
        return lines
    }

    private static func argument(_ argument: ArgumentInfo) -> [String] {
        let value = argument.valueName.map { " \\fI<\(escape($0))>\\fR" } ?? ""
        let label: String
        if argument.kind == "positional" {
            label = "\\fI<\(escape(argument.valueName ?? "value"))>\\fR"
        } else {
            let names = (argument.names ?? []).map { "\\fB\($0.kind == "short" ? "-" : "--")\(escape($0.name))\\fR" }
            label = names.joined(separator: ", ") + (argument.kind == "option" ? value : "")
        }
        var text = argument.abstract.map(paragraph) ?? ""
        if let defaultValue = argument.defaultValue, argument.kind == "option" { text += " (default: \(escape(defaultValue)))" }
        if let discussion = argument.discussion { text += "\n" + paragraph(discussion) }
        return [".TP", label, text]
    }

    /// Text as roff reads it: backslashes doubled, and no line starting with a control character.
    private static func paragraph(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let escaped = escape(String(line))
            return escaped.hasPrefix(".") || escaped.hasPrefix("'") ? "\\&" + escaped : escaped
        }.joined(separator: "\n")
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
    }

    // The parts of argument-parser's description that the page shows.
    struct Description: Decodable { var command: CommandInfo }

    struct CommandInfo: Decodable {
        var commandName: String
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool = true
        var subcommands: [CommandInfo]?
        var arguments: [ArgumentInfo]?

        enum CodingKeys: String, CodingKey { case commandName, abstract, discussion, shouldDisplay, subcommands, arguments }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            commandName = try container.decode(String.self, forKey: .commandName)
            abstract = try container.decodeIfPresent(String.self, forKey: .abstract)
            discussion = try container.decodeIfPresent(String.self, forKey: .discussion)
            shouldDisplay = try container.decodeIfPresent(Bool.self, forKey: .shouldDisplay) ?? true
            subcommands = try container.decodeIfPresent([CommandInfo].self, forKey: .subcommands)
            arguments = try container.decodeIfPresent([ArgumentInfo].self, forKey: .arguments)
        }
    }

    struct ArgumentInfo: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }

        var kind: String
        var names: [Name]?
        var valueName: String?
        var abstract: String?
        var discussion: String?
        var defaultValue: String?
        var shouldDisplay: Bool
    }
}
