import Foundation

/// rsync: `rsync --daemon` on the seeder exports the file's directory as a module, and every
/// leecher pulls the file from it at the same time. Like HTTP, the seeder sends every copy.
final class RsyncSwarm: SwarmMethod {
    private static let port = 8730
    private static let module = "content"

    private let setup: SwarmSetup
    private let processes: SwarmProcesses

    init(setup: SwarmSetup, processes: SwarmProcesses) {
        self.setup = setup
        self.processes = processes
    }

    func prepare() throws {
        let configuration = """
            pid file = \(setup.directory)/rsyncd.pid
            use chroot = no
            # The content belongs to root; without this the daemon would read it as nobody.
            uid = root
            gid = root
            [\(Self.module)]
                path = \(setup.contentDirectory)
                read only = yes
            """
        let path = "\(setup.directory)/rsyncd.conf"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        let log = "rsyncd.log"
        let pid = try processes.start(["rsync", "--daemon", "--no-detach", "--config=\(path)", "--port=\(Self.port)"], in: setup.seeder, log: log)
        try processes.waitUntilListening(on: Self.port, in: setup.seeder, log: log, pid: pid)
    }

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, leecher in
            let directory = try setup.leecherDirectory(index)
            let source = "rsync://[\(setup.seeder.address)%\(leecher.interface)]:\(Self.port)/\(Self.module)/\(setup.contentName)"
            let log = "leecher\(index + 1)-rsync.log"
            let pid = try processes.start(["rsync", source, "\(directory)/"], in: leecher, log: log)
            // rsync writes to a temporary name and renames it at the end, so count the whole directory.
            return .process(pid, log: log, output: "\(directory)/\(setup.contentName)", processes: processes) { FileSize.total(in: directory) }
        }
    }
}
