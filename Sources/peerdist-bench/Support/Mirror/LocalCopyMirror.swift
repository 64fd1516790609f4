import Foundation

/// The floor: every follower's tree copied from the publisher's tree on the shared file system,
/// with no network and nothing to find out. The first phase copies the whole tree with `cp -a`.
/// The change phase is told what changed: a local rsync (which copies files whole) is handed the
/// list, so it writes each rewritten, edited, added or renamed file as a new file renamed into
/// place (as a method that never shows a half-written file must), removes deleted and renamed
/// ones, and gives their directories the publisher's times, without looking at anything else.
/// Whatever the method, a follower ends up writing at least these bytes; on a machine where
/// writing fresh pages is dear, this shows what that alone costs.
final class LocalCopyMirror: MirrorMethod {
    private let setup: MirrorSetup
    private let processes: SwarmProcesses
    private var copiedOnce = false

    init(setup: MirrorSetup, processes: SwarmProcesses) {
        self.setup = setup
        self.processes = processes
    }

    func prepare() throws {}

    func synchronize(phase: String, deadline: ContinuousClock.Instant) throws -> Double? {
        let changes = copiedOnce ? setup.changes : nil
        let copies = try setup.followers.enumerated().map { index, follower in
            let log = "follower\(index + 1)-copy-\(phase).log"
            let command: [String]
            if let changes {
                let list = "\(setup.directory)/follower\(index + 1)-\(phase).paths"
                try Self.changedPaths(changes).joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
                command = [
                    "rsync", "-a", "--files-from=\(list)", "--delete-missing-args", "\(setup.publisherTree)/", "\(setup.followerTree(index))/",
                ]
            } else {
                command = ["cp", "-a", "\(setup.publisherTree)/.", "\(setup.followerTree(index))/"]
            }
            // In the follower's namespace so that its control group counts the CPU; the file system is shared.
            return (pid: try processes.start(command, in: follower, log: log), log: log)
        }
        try processes.waitForAll(copies, what: { "the copy of follower \($0 + 1)" }, until: deadline)
        copiedOnce = true
        return nil
    }

    /// Every path the change wrote or removed, and the directories whose entries it changed.
    static func changedPaths(_ changes: MirrorTreeChanges) -> [String] {
        var paths: [String] = []
        for change in changes.changes {
            switch change {
            case .rewrite(let path, _, _, _), .insert(let path, _, _, _), .add(let path, _, _, _), .delete(let path): paths.append(path)
            case .rename(let from, let to): paths += [from, to]
            }
        }
        return paths + changes.touchedDirectories.map { $0.isEmpty ? "." : $0 }
    }
}
