import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure how fast this machine hashes content, against standard tools.",
        discussion: "Transfer, swarm and mirror benchmarks are in a checkout's scripts/bench.",
        subcommands: [HashBenchmark.self]
    )
}
