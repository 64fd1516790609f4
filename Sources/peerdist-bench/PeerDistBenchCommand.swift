import ArgumentParser

/// Benchmarks of PeerDist against standard tools, between hosts in network namespaces. They drive
/// the `peerdist` binary built beside this one, as a user would run it.
@main
struct PeerDistBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peerdist-bench",
        abstract: "Measure the peerdist binary against standard tools on this machine, in one run.",
        discussion: "Run through scripts/bench, which installs the tools and builds both binaries. `peerdist bench hash` measures hashing alone.",
        subcommands: [TransferBenchmark.self, SwarmBenchmark.self, MirrorBenchmark.self, PresenceBenchmark.self, BranchCacheBenchmark.self, DHTBenchmark.self]
    )
}
