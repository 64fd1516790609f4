import ArgumentParser
import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// A directory kept identical on followers, by peerdist mirrors and by rsync, on the same hosts
/// in the same run: the time until every follower holds the whole tree, then the time and the
/// bytes on the wire after 1 % of its files changed, and the time for a tree of small files alone.
struct MirrorBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Mirror a directory from a publisher to several followers by peerdist and by rsync, before and after a change.",
        discussion: """
            Needs root: hosts are network namespaces on one bridge (removed at the end), and CPU time \
            is counted in a control group per method. The tree is generated from --seed (the same in \
            every run and for every method): large files of 64–256 MiB filling --size beside \
            --small-files files of 1–16 KiB in nested directories, a few empty directories and \
            symbolic links. Each method starts with empty followers and is timed (1) until every \
            follower has the tree, (2) after 1 % of the files change (small files rewritten, added, \
            deleted and renamed, bytes inserted in large files), until every follower has the change; \
            then (3) with the small files alone. After each phase every follower's tree is compared \
            with the publisher's (content, modes, modification times, symbolic links). The method \
            `local` runs the same rsync from the publisher's tree on the shared file system, with \
            no network; the method `copy` is the floor: every follower copies from the publisher's \
            tree (cp -a, then rsync told which paths changed), with no network. Reports medians per \
            phase and method, peerdist's figures divided by rsync's, rsync's figures plus what \
            verifying and encrypting every byte received must add (SHA-256 and AES-GCM timed in \
            the same run), and the goals.
            """
    )

    @Option(help: "Size of the tree: large files fill what the small ones leave.")
    var size = ByteCount(bytes: 1 << 30)

    @Option(name: .customLong("small-files"), help: "Number of small files (1–16 KiB each).")
    var smallFiles = 20_000

    @Option(help: "Number of followers.")
    var followers = 3

    @Option(help: ArgumentHelp("Shape every link to this rate, both ways (tc notation, e.g. 1gbit).", valueName: "rate"))
    var rate: LinkRate?

    @OptionGroup var methodRuns: MethodRuns<MirrorMethodKind>

    @Option(help: ArgumentHelp("Give up on one phase of a method after this many seconds, and report it as failed.", valueName: "seconds"))
    var timeout = 300

    @Option(help: "Seed of the tree and of its change.")
    var seed: UInt64 = 1

    @Flag(inversion: .prefixedNo, help: "Also time the mirror of the small files alone.")
    var smallTree = true

    @Option(name: .customLong("write-tree"), help: ArgumentHelp(
        "Only write the trees into this directory and exit: tree/, changed/ (after the change) and small/; no root needed.", valueName: "dir"))
    var writeTree: String?

    func validate() throws {
        guard size.bytes > 0, methodRuns.runs >= 1, timeout >= 1 else { throw ValidationError("--size, --runs and --timeout must be positive.") }
        guard smallFiles >= 0 else { throw ValidationError("--small-files cannot be negative.") }
        guard (1...20).contains(followers) else { throw ValidationError("--followers must be between 1 and 20.") }
    }

    func run() throws {
        let tree = try MirrorTreeLayout(seed: seed, size: size.bytes, smallFileCount: smallFiles, withLargeFiles: true)
        let changes = MirrorTreeChanges(layout: tree)
        let smallOnly = smallTree && smallFiles > 0 ? try MirrorTreeLayout(seed: seed, size: 0, smallFileCount: smallFiles, withLargeFiles: false) : nil
        if let writeTree {
            return try write(tree, changes, smallOnly, into: writeTree)
        }

        let methods = methodRuns.selected
        let interruption = try NamespaceBenchmark.begin("mirror", requiring: methods.flatMap(\.requiredTools))
        defer { interruption.cancel() }

        let network = try NetworkHosts(count: 1 + followers, rate: rate?.text)
        defer { network.tearDown() }
        let work = "\(workBase(treeBytes: tree.totalBytes, methods: methods))/peerdist-mirror-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let executable = try PeerdistBinary.path()
        let writer = MirrorTreeWriter()

        var results: [MirrorPhaseResult] = []
        for (round, method) in methodRuns.schedule {
            var trials = [(layout: tree, phase: MirrorPhase.initial, changes: Optional(changes), name: "\(method.rawValue)-\(round)")]
            if let smallOnly { trials.append((smallOnly, .smallFiles, nil, "\(method.rawValue)-\(round)-small")) }
            for trial in trials {
                Output.error("run \(round)/\(methodRuns.runs): \(method.title), \(trial.phase == .smallFiles ? "small-file tree" : "tree") of \(ByteCount.format(trial.layout.totalBytes))…")
                let setup = MirrorSetup(
                    network: network, publisher: network.hosts[0], followers: Array(network.hosts.dropFirst()), directory: "\(work)/\(trial.name)",
                    executable: executable, changes: trial.changes)
                let phases = try MirrorTrial(
                    method: method, setup: setup, layout: trial.layout, firstPhase: trial.phase, changes: trial.changes,
                    trialName: "peerdist-mirror-\(getpid())-\(trial.name)", limit: .seconds(timeout), writer: writer
                ).run()
                for result in phases {
                    let outcome = result.seconds.map { String(format: "%.2f s, %@ on the wire", $0, ByteCount.format(result.wireBytes)) }
                    Output.error("  \(result.phase.title): " + (outcome ?? "failed: \(result.failure ?? "")"))
                }
                results += phases
            }
        }

        // What verifying and encrypting cost on this machine, now: part of the floor under
        // peerdist's figures (rsync checks nothing against a published hash and encrypts nothing).
        let crypto = methods.contains(.peerdist) && methods.contains(.rsync) ? CryptoFloor.measure() : nil
        MirrorReport(
            results: results, methods: methods, tree: tree, changes: changes, smallTree: smallOnly, followers: followers, rate: rate, runs: methodRuns.runs,
            crypto: crypto, processors: ProcessInfo.processInfo.activeProcessorCount
        ).print()
    }

    /// In memory when there is room, so that the network and the programs are measured rather
    /// than this machine's disk: every host holds a copy, and a peerdist node its store besides.
    private func workBase(treeBytes: Int, methods: [MirrorMethodKind]) -> String {
        let needed = (1 + followers) * treeBytes * (methods.contains(.peerdist) ? 2 : 1) + (256 << 20)
        var information = statvfs()
        if statvfs("/dev/shm", &information) == 0, Int(information.f_bavail) * Int(information.f_frsize) >= needed {
            return "/dev/shm"
        }
        let disk = FileManager.default.temporaryDirectory.path
        Output.error("note: /dev/shm has no room for about \(ByteCount.format(needed)) of trees; they go to \(disk), on disk")
        return disk
    }

    /// `--write-tree`: the trees as every method gets them, for a look or a comparison.
    private func write(_ tree: MirrorTreeLayout, _ changes: MirrorTreeChanges, _ smallOnly: MirrorTreeLayout?, into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let writer = MirrorTreeWriter()
        let started = ContinuousClock.now
        try writer.write(tree, to: "\(directory)/tree")
        Output.line("tree: \(tree.summary)")
        try writer.write(tree, to: "\(directory)/changed")
        try changes.apply(to: "\(directory)/changed", with: writer)
        Output.line("changed: \(changes.summary)")
        if let smallOnly {
            try writer.write(smallOnly, to: "\(directory)/small")
            Output.line("small: \(smallOnly.summary)")
        }
        Output.error(String(format: "written in %.2f s", (ContinuousClock.now - started).seconds))
    }
}
