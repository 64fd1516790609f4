import Foundation
import Testing

/// `scripts/install` into a scratch prefix: the binary, completions, manual page and systemd unit
/// it writes, and what each of them says.
@Suite struct InstallTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/install").path

    static func install(_ arguments: [String]) throws -> CommandResult {
        try Peerdist.runTool([script, "--binary", Peerdist.binary.path] + arguments)
    }

    @Test func installsIntoAPrefix() throws {
        let scratch = try ScratchDirectory()
        let prefix = scratch.child("usr")
        let result = try Self.install(["--prefix", prefix])
        #expect(result.status == 0, "\(result.standardError)")

        let binary = prefix + "/bin/peerdist"
        #expect(FileManager.default.isExecutableFile(atPath: binary))
        let version = try Peerdist.runTool([binary, "--version"])
        #expect(version.standardOutput == "0.1.0\n")

        // Completions for three shells, naming the commands and the options of `serve`.
        let bash = try String(contentsOfFile: prefix + "/share/bash-completion/completions/peerdist", encoding: .utf8)
        let zsh = try String(contentsOfFile: prefix + "/share/zsh/site-functions/_peerdist", encoding: .utf8)
        let fish = try String(contentsOfFile: prefix + "/share/fish/vendor_completions.d/peerdist.fish", encoding: .utf8)
        for script in [bash, zsh, fish] {
            #expect(script.contains("serve") && script.contains("metrics") && script.contains("config"))
        }
        #expect(zsh.hasPrefix("#compdef peerdist"))
        // Bash itself completes `peerdist serve --me` to --metrics with the installed script.
        let completed = try Peerdist.runTool([
            "bash", "-c",
            #"source "$0"; COMP_WORDS=(peerdist serve --me); COMP_CWORD=2; COMP_LINE="peerdist serve --me"; COMP_POINT=${#COMP_LINE}; _peerdist peerdist --me serve; printf '%s\n' "${COMPREPLY[@]}""#,
            prefix + "/share/bash-completion/completions/peerdist",
        ])
        #expect(completed.standardOutput.split(separator: "\n").contains("--metrics"), "\(completed.standardOutput) \(completed.standardError)")

        // The manual page: one page with every command, as man(1) formats it.
        let manual = prefix + "/share/man/man1/peerdist.1"
        let page = try String(contentsOfFile: manual, encoding: .utf8)
        #expect(page.contains(".TH PEERDIST 1"))
        let formatted = try Peerdist.runTool(["man", "-l", "-P", "cat", manual])
        #expect(formatted.status == 0, "\(formatted.standardError)")
        for expected in ["peerdist serve", "peerdist config show", "--metrics <[addr]:port>", "--web <[addr]:port>", "peerdist fetch"] {
            #expect(formatted.standardOutput.contains(expected), "\(expected) missing from the manual")
        }
        #expect(!formatted.standardOutput.contains("peerdist manual"), "the hidden command stays out of the manual")

        // The systemd user unit starts the installed binary.
        let unit = try String(contentsOfFile: prefix + "/lib/systemd/user/peerdist.service", encoding: .utf8)
        #expect(unit.contains("\nExecStart=\(binary) serve "))
    }

    @Test func destdirStagesAndDryRunWritesNothing() throws {
        let scratch = try ScratchDirectory()
        let staged = try Self.install(["--prefix", "/opt/peerdist", "--destdir", scratch.child("stage")])
        #expect(staged.status == 0, "\(staged.standardError)")
        let unit = try String(contentsOfFile: scratch.child("stage") + "/opt/peerdist/lib/systemd/user/peerdist.service", encoding: .utf8)
        #expect(unit.contains("\nExecStart=/opt/peerdist/bin/peerdist serve "))
        #expect(FileManager.default.isExecutableFile(atPath: scratch.child("stage") + "/opt/peerdist/bin/peerdist"))

        let dry = try Self.install(["--prefix", scratch.child("dry"), "--dry-run"])
        #expect(dry.status == 0)
        #expect(dry.standardOutput.split(separator: "\n").count == 6)
        #expect(dry.standardOutput.contains("would install \(scratch.child("dry"))/share/man/man1/peerdist.1"))
        #expect(!FileManager.default.fileExists(atPath: scratch.child("dry")))

        let wrong = try Self.install(["--prefix", "relative/path"])
        #expect(wrong.status == 64)
        #expect(wrong.standardError == "install: --prefix takes an absolute directory, not 'relative/path'\n")
        let unknown = try Self.install(["--frobnicate"])
        #expect(unknown.status == 64)
        #expect(unknown.standardError.split(separator: "\n").count == 1)
    }
}
