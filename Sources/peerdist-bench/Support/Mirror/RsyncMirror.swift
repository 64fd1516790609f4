import Foundation

/// rsync as a mirror is usually kept: `rsync --daemon` on the publisher exports the tree as a
/// module, and every follower runs `rsync -a --delete` from it, all at once, in every phase. After
/// a change rsync's delta transfer sends only what differs in files it finds at the same path
/// (renamed files travel whole); the publisher sends every follower's copy itself.
///
/// Without the network, the same rsync runs on every follower from the publisher's tree on the
/// shared file system (a local rsync copies changed files whole): what comparing the trees and
/// writing every follower's new files cost on this machine when no byte crosses a network.
final class RsyncMirror: MirrorMethod {
    private static let module = "tree"

    private let setup: MirrorSetup
    private let processes: SwarmProcesses
    private let overNetwork: Bool

    init(setup: MirrorSetup, processes: SwarmProcesses, overNetwork: Bool) {
        self.setup = setup
        self.processes = processes
        self.overNetwork = overNetwork
    }

    func prepare() throws {
        guard overNetwork else { return }
        try RsyncDaemon.start(exporting: setup.publisherTree, as: Self.module, in: setup.publisher, directory: setup.directory, processes: processes)
    }

    func synchronize(phase: String, deadline: ContinuousClock.Instant) throws -> Double? {
        let clients = try setup.followers.enumerated().map { index, follower in
            let source = overNetwork
                ? "rsync://[\(setup.publisher.address)%\(follower.interface)]:\(RsyncDaemon.port)/\(Self.module)/" : "\(setup.publisherTree)/"
            let log = "follower\(index + 1)-rsync-\(phase).log"
            return (pid: try processes.start(["rsync", "-a", "--delete", source, "\(setup.followerTree(index))/"], in: follower, log: log), log: log)
        }
        try processes.waitForAll(clients, what: { "the rsync of follower \($0 + 1)" }, until: deadline)
        return nil
    }
}
