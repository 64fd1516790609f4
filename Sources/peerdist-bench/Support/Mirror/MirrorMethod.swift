import ArgumentParser
import Foundation
import PeerDistTestHosts

/// One way of keeping followers' directories equal to the publisher's, as `peerdist-bench mirror`
/// runs it: `prepare` starts servers and nodes (not timed); each `synchronize` is one timed phase.
protocol MirrorMethod {
    /// Starts what must be running before the clock starts.
    func prepare() throws
    /// Brings every follower's tree to the publisher's tree as it is now, returning once the
    /// method reports them all up to date; throws a one-line reason when it fails or is not done
    /// by `deadline`. `phase` names the phase in log file names.
    ///
    /// - Returns: for methods that publish a version first, the seconds publishing took (part of
    ///   the phase's time).
    func synchronize(phase: String, deadline: ContinuousClock.Instant) throws -> Double?
}

/// What every method is given for one trial.
struct MirrorSetup {
    let network: NetworkHosts
    let publisher: NetworkHosts.Host
    let followers: [NetworkHosts.Host]
    /// Scratch space for this trial alone, removed after it.
    let directory: String
    /// This `peerdist` binary.
    let executable: String
    /// What the trial changes in the publisher's tree before its second phase, if it has one.
    let changes: MirrorTreeChanges?

    var hosts: [NetworkHosts.Host] { [publisher] + followers }

    /// The tree being mirrored.
    var publisherTree: String { "\(directory)/publisher/tree" }

    /// Follower `index`'s copy (its directory exists, empty, before `prepare`).
    func followerTree(_ index: Int) -> String { "\(directory)/follower\(index + 1)/tree" }

    /// A directory of the host's own for a method's state (a node's data directory).
    func stateDirectory(host index: Int, _ name: String) -> String {
        index == 0 ? "\(directory)/publisher/\(name)" : "\(directory)/follower\(index)/\(name)"
    }
}

/// The methods `peerdist-bench mirror` compares, in the order they run and are printed.
enum MirrorMethodKind: String, CaseIterable, ExpressibleByArgument {
    case peerdist
    case rsync
    /// Not a way of mirroring across hosts: every follower runs rsync from the publisher's tree
    /// on the shared file system, with no network (see `RsyncMirror`): what rsync's work costs
    /// on this machine without moving a byte between hosts.
    case local
    /// The floor, not a way of mirroring across hosts: every follower copies from the publisher's
    /// tree on the shared file system, told what changed (see `LocalCopyMirror`).
    case copy

    /// The name in the results tables.
    var title: String {
        switch self {
        case .peerdist: "peerdist mirror"
        case .rsync: "rsync daemon"
        case .local: "rsync, no network"
        case .copy: "floor: local copy"
        }
    }

    /// Programs this method runs, with the Debian package of each.
    var requiredTools: [RequiredTool] {
        switch self {
        case .peerdist: [RequiredTool("timeout", package: "coreutils")]
        case .rsync, .local, .copy: [RequiredTool("rsync", package: "rsync")]
        }
    }

    func make(_ setup: MirrorSetup, _ processes: SwarmProcesses) -> any MirrorMethod {
        switch self {
        case .peerdist: PeerDistMirror(setup: setup, processes: processes)
        case .rsync: RsyncMirror(setup: setup, processes: processes, overNetwork: true)
        case .local: RsyncMirror(setup: setup, processes: processes, overNetwork: false)
        case .copy: LocalCopyMirror(setup: setup, processes: processes)
        }
    }
}
