import ArgumentParser
import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// One way of getting a file from a seeder to every leecher, as `peerdist-bench swarm` runs it:
/// first `prepare` (servers, daemons, metadata: not timed), then `startLeechers` starts every
/// leecher at once and the clock runs until the last one holds the whole file.
protocol SwarmMethod {
    /// Starts what must be running before the clock starts.
    func prepare() throws
    /// Starts every leecher's transfer at once, in the order of `SwarmSetup.leechers`.
    func startLeechers() throws -> [LeecherTransfer]
}

/// What every method is given for one trial.
struct SwarmSetup {
    let network: NetworkHosts
    let seeder: NetworkHosts.Host
    let leechers: [NetworkHosts.Host]
    /// The file to distribute; its directory holds nothing else.
    let content: String
    let contentSize: Int
    /// Scratch space for this trial alone, removed after it.
    let directory: String
    /// This `peerdist` binary.
    let executable: String

    var contentDirectory: String { (content as NSString).deletingLastPathComponent }
    var contentName: String { (content as NSString).lastPathComponent }

    /// A directory of its own for leecher `index`, created on first use.
    func leecherDirectory(_ index: Int) throws -> String {
        let path = "\(directory)/leecher\(index + 1)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// One leecher's transfer, as the trial polls it.
struct LeecherTransfer {
    /// Where the complete file will be, for checking its bytes after timing.
    let output: String
    /// Bytes of the file this leecher holds so far.
    let heldBytes: () -> Int
    /// True once the leecher holds the whole file; throws a one-line reason when it failed.
    let isComplete: () throws -> Bool

    /// A leecher that is one client process: done when it exits with status 0.
    static func process(_ pid: pid_t, log: String, output: String, processes: SwarmProcesses, heldBytes: @escaping () -> Int) -> LeecherTransfer {
        LeecherTransfer(output: output, heldBytes: heldBytes) {
            switch processes.state(of: pid) {
            case .running: return false
            case .exited(let termination) where termination.succeeded: return true
            case .exited(let termination): throw CommandFailure("\(log) failed (\(termination)): \(processes.logTail(log))")
            }
        }
    }
}

/// A method a swarm trial can run: how it is named, and how it is set up for one trial.
protocol SwarmMethodChoice: Equatable {
    var rawValue: String { get }
    /// The name in the results table.
    var title: String { get }
    func make(_ setup: SwarmSetup, _ processes: SwarmProcesses) -> any SwarmMethod
}

/// The methods `peerdist-bench swarm` compares, in the order they run and are printed.
enum SwarmMethodKind: String, CaseIterable, ExpressibleByArgument, SwarmMethodChoice {
    case peerdist
    case http
    case rsync
    case bittorrent
    /// Not a way of distributing: every leecher copies the file locally (see `LocalCopySwarm`).
    case copy

    /// The name in the results table.
    var title: String {
        switch self {
        case .peerdist: "peerdist"
        case .http: "http (nginx, curl)"
        case .rsync: "rsync daemon"
        case .bittorrent: "bittorrent (aria2c)"
        case .copy: "floor: local cp"
        }
    }

    /// Programs this method runs, with the Debian package of each.
    var requiredTools: [RequiredTool] {
        switch self {
        case .peerdist, .copy: []
        case .http: [RequiredTool("nginx", package: "nginx-light"), RequiredTool("curl", package: "curl")]
        case .rsync: [RequiredTool("rsync", package: "rsync")]
        case .bittorrent:
            [RequiredTool("aria2c", package: "aria2"), RequiredTool("opentracker", package: "opentracker"),
             RequiredTool("mktorrent", package: "mktorrent"), RequiredTool("curl", package: "curl")]
        }
    }

    func make(_ setup: SwarmSetup, _ processes: SwarmProcesses) -> any SwarmMethod {
        switch self {
        case .peerdist: PeerDistSwarm(setup: setup, processes: processes)
        case .http: HTTPSwarm(setup: setup, processes: processes)
        case .rsync: RsyncSwarm(setup: setup, processes: processes)
        case .bittorrent: BitTorrentSwarm(setup: setup, processes: processes)
        case .copy: LocalCopySwarm(setup: setup, processes: processes)
        }
    }
}
