import ArgumentParser

@main
struct PeerDistCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peerdist",
        abstract: "Peer content distribution: BranchCache Content Information, hashing and transfer.",
        version: "0.1.0",
        subcommands: [
            PublishCommand.self, FetchCommand.self, ServeCommand.self, StatusCommand.self, PeersCommand.self, StoreCommand.self,
            MirrorCommand.self, HashCommand.self, InfoCommand.self, KeyCommand.self, BenchCommand.self,
        ]
    )
}
