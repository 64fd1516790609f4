import Foundation

/// The floor: every leecher copies the seeder's file with `cp`, from memory, no network. Whatever
/// the method, each leecher ends up writing the whole file; on a machine where writing fresh
/// pages is dear (a virtual machine whose host takes back freed memory), this shows what that
/// alone costs, in time and CPU, beside the methods that also move the bytes over the network.
struct LocalCopySwarm: SwarmMethod {
    let setup: SwarmSetup
    let processes: SwarmProcesses

    func prepare() throws {}

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, leecher in
            let output = "\(try setup.leecherDirectory(index))/\(setup.contentName)"
            let log = "leecher\(index + 1)-cp.log"
            // In the leecher's namespace so that its control group counts the CPU; the file system is shared.
            let pid = try processes.start(["cp", setup.content, output], in: leecher, log: log)
            return .process(pid, log: log, output: output, processes: processes) { FileSize.apparent(output) }
        }
    }
}
