import Foundation
import PeerDistTestHosts

/// `rsync --daemon` exporting one directory read-only as a module, the source of the benchmarks'
/// rsync baselines. It runs as root without a chroot, in the foreground so the run can stop it.
enum RsyncDaemon {
    static let port = 8730

    /// Starts the daemon in `host` and waits until it listens; its configuration, pid file and
    /// log go in `directory`.
    static func start(
        exporting path: String, as module: String, in host: NetworkHosts.Host, directory: String, processes: SwarmProcesses
    ) throws {
        let configuration = """
            pid file = \(directory)/rsyncd.pid
            use chroot = no
            # Without a chroot the daemon would otherwise rewrite every symbolic link it sends.
            munge symlinks = no
            # The files belong to root; without this the daemon would read them as nobody.
            uid = root
            gid = root
            [\(module)]
                path = \(path)
                read only = yes
            """
        let configurationPath = "\(directory)/rsyncd.conf"
        try configuration.write(toFile: configurationPath, atomically: true, encoding: .utf8)
        let log = "rsyncd.log"
        let pid = try processes.start(["rsync", "--daemon", "--no-detach", "--config=\(configurationPath)", "--port=\(port)"], in: host, log: log)
        try processes.waitUntilListening(on: port, in: host, log: log, pid: pid)
    }
}
