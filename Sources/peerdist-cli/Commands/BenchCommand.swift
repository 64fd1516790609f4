import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure PeerDist against standard tools on this machine, in one run.",
        subcommands: [HashBenchmark.self, TransferBenchmark.self, SwarmBenchmark.self, MirrorBenchmark.self]
    )
}
