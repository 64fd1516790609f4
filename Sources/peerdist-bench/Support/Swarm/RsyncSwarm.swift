import Foundation

/// rsync: `rsync --daemon` on the seeder exports the file's directory as a module, and every
/// leecher pulls the file from it at the same time. Like HTTP, the seeder sends every copy.
struct RsyncSwarm: SwarmMethod {
    private static let module = "content"

    let setup: SwarmSetup
    let processes: SwarmProcesses

    func prepare() throws {
        try RsyncDaemon.start(exporting: setup.contentDirectory, as: Self.module, in: setup.seeder, directory: setup.directory, processes: processes)
    }

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, leecher in
            let directory = try setup.leecherDirectory(index)
            let source = "rsync://[\(setup.seeder.address)%\(leecher.interface)]:\(RsyncDaemon.port)/\(Self.module)/\(setup.contentName)"
            let log = "leecher\(index + 1)-rsync.log"
            let pid = try processes.start(["rsync", source, "\(directory)/"], in: leecher, log: log)
            // rsync writes to a temporary name and renames it at the end, so count the whole directory.
            return .process(pid, log: log, output: "\(directory)/\(setup.contentName)", processes: processes) { FileSize.total(in: directory) }
        }
    }
}
