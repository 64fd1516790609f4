import ArgumentParser

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
            DHTCommand.self, NamesCommand.self, HashCommand.self, InfoCommand.self, KeyCommand.self, BenchCommand.self,
        ]
    )
}
