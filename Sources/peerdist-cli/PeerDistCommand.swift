import ArgumentParser
import PeerDistCommandSupport

@main
struct PeerDistCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peerdist",
        abstract: "Peer content distribution and collaboration: publish and fetch by content ID, mirrors, contacts, presence and invitations.",
        version: "0.1.0",
        subcommands: [
            PublishCommand.self, FetchCommand.self, ServeCommand.self, StatusCommand.self, PeersCommand.self, StoreCommand.self,
            MirrorCommand.self, MeCommand.self, ContactsCommand.self, PresenceCommand.self, NearMeCommand.self, NearCommand.self,
            ObjectsCommand.self, InviteCommand.self, InvitationsCommand.self, AppsCommand.self, EventsCommand.self,
            DHTCommand.self, NamesCommand.self, HashCommand.self, InfoCommand.self, KeyCommand.self, ConfigCommand.self, BenchCommand.self, ManualCommand.self,
        ]
    )

    /// argument-parser's own `main`, except that `serve` first takes the settings of the
    /// configuration file in its data directory, as arguments the command line's override.
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == ServeCommand.configuration.commandName, !arguments.contains(where: { ["-h", "--help", "help"].contains($0) }) {
            do {
                arguments = try ["serve"] + ServeConfiguration(commandLine: Array(arguments.dropFirst())).arguments
            } catch {
                exit(withError: CommandFailure(error.description))
            }
        }
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
