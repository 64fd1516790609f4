import ArgumentParser
import PeerDistCommandSupport

/// Prints the manual page, for `scripts/install`; hidden from help, as the completion scripts'
/// `--generate-completion-script` is.
struct ManualCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manual",
        abstract: "Print the peerdist(1) manual page (roff), generated from the command definitions.",
        shouldDisplay: false
    )

    func run() throws {
        Output.write(try ManualPage.render(PeerDistCommand.self), to: 1)
    }
}
