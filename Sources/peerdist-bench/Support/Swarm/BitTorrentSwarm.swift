import Foundation
import PeerDistCommandSupport

/// BitTorrent: a torrent made with `mktorrent`, `opentracker` on the seeder, `aria2c` seeding the
/// file there and one `aria2c` per leecher. DHT and local peer discovery are off, so peers meet
/// through the tracker alone; leechers keep seeding to the others until the last one is done.
///
/// Uses the hosts' IPv4 addresses: Debian's opentracker is built for IPv4 only.
struct BitTorrentSwarm: SwarmMethod {
    private static let trackerPort = 6969
    private static let peerPort = 6881

    let setup: SwarmSetup
    let processes: SwarmProcesses

    private var torrent: String { "\(setup.directory)/content.torrent" }
    private var completionHook: String { "\(setup.directory)/on-complete" }

    func prepare() throws {
        guard let trackerAddress = setup.seeder.ipv4Address else { throw CommandFailure("the BitTorrent baseline needs IPv4 addresses on the bridge") }
        let tracker = "http://\(trackerAddress):\(Self.trackerPort)/announce"
        try ChildProcess.run(["mktorrent", "-a", tracker, "-l", "\(Self.pieceLengthExponent(for: setup.contentSize))", "-o", torrent, setup.content])
        let infoHash = try Self.infoHash(of: torrent)
        // This opentracker only tracks torrents on its list; it reads the list inside its chroot.
        try "\(infoHash)\n".write(toFile: "\(setup.directory)/whitelist", atomically: true, encoding: .utf8)
        let trackerLog = "opentracker.log"
        let trackerPID = try processes.start(
            ["opentracker", "-i", trackerAddress, "-p", "\(Self.trackerPort)", "-P", "\(Self.trackerPort)", "-d", setup.directory, "-u", "nobody", "-w", "/whitelist"],
            in: setup.seeder, log: trackerLog)
        try processes.waitUntilListening(on: Self.trackerPort, in: setup.seeder, log: trackerLog, pid: trackerPID)

        // The seeder trusts its file (as `peerdist publish` does after hashing) instead of hashing it again.
        let seederLog = "seeder-aria2c.log"
        let seederPID = try processes.start(
            Self.aria2c + ["--dir", setup.contentDirectory, "--bt-seed-unverified=true", torrent], in: setup.seeder, log: seederLog)
        try waitUntilSeeding(infoHash: infoHash, tracker: tracker, log: seederLog, pid: seederPID)

        // aria2c runs this when a leecher's download is complete and verified, and goes on seeding.
        try "#!/bin/sh\n# aria2c passes the GID, the number of files and the first file's path.\ntouch \"$3.done\"\n"
            .write(toFile: completionHook, atomically: true, encoding: .utf8)
        chmod(completionHook, 0o755)
    }

    func startLeechers() throws -> [LeecherTransfer] {
        try setup.leechers.enumerated().map { index, leecher in
            let directory = try setup.leecherDirectory(index)
            let output = "\(directory)/\(setup.contentName)"
            let log = "leecher\(index + 1)-aria2c.log"
            // No preallocation: pieces then land in a sparse file, whose allocated size is what has arrived.
            let pid = try processes.start(
                Self.aria2c + ["--dir", directory, "--file-allocation=none", "--on-bt-download-complete=\(completionHook)", torrent], in: leecher, log: log)
            let size = setup.contentSize
            return LeecherTransfer(output: output, heldBytes: { min(size, FileSize.allocated(output)) }) { [processes] in
                if FileManager.default.fileExists(atPath: "\(output).done") { return true }
                if case .exited(let termination) = processes.state(of: pid) {
                    throw CommandFailure("\(log) exited (\(termination)) before it had the file: \(processes.logTail(log))")
                }
                return false
            }
        }
    }

    /// Options every aria2c here shares: tracker only, seed until stopped, quiet.
    private static let aria2c = [
        "aria2c", "--no-conf", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
        "--listen-port=\(peerPort)", "--seed-ratio=0.0", "--summary-interval=0", "--enable-color=false",
        "--console-log-level=warn", "--auto-file-renaming=false", "--allow-overwrite=true",
    ]

    /// About a thousand pieces or more, between 64 KiB and 4 MiB, as torrent makers usually choose.
    static func pieceLengthExponent(for size: Int) -> Int {
        var exponent = 16
        while exponent < 22, size >> (exponent + 1) >= 1000 { exponent += 1 }
        return exponent
    }

    private static func infoHash(of torrent: String) throws -> String {
        let shown = try ChildProcess.run(["aria2c", "--show-files", torrent])
        guard let line = shown.split(separator: "\n").first(where: { $0.hasPrefix("Info Hash: ") }) else {
            throw CommandFailure("aria2c --show-files printed no info hash for \(torrent)")
        }
        return String(line.dropFirst("Info Hash: ".count)).trimmingCharacters(in: .whitespaces)
    }

    /// Leechers learn of the seeder only from the tracker, and ask it again only after minutes; so
    /// the clock must not start before the seeder's announce is in. The tracker's scrape tells.
    private func waitUntilSeeding(infoHash: String, tracker: String, log: String, pid: pid_t) throws {
        let escaped = stride(from: 0, to: infoHash.count, by: 2).map { offset in
            "%" + infoHash.dropFirst(offset).prefix(2)
        }.joined()
        let scrape = tracker.replacingOccurrences(of: "/announce", with: "/scrape") + "?info_hash=\(escaped)"
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let reply = try? ChildProcess.run(["ip", "netns", "exec", setup.seeder.namespace, "curl", "-s", "-g", scrape])
            // Bencoded: "…8:completei1e…" once one peer with the whole file has announced.
            if let reply, reply.contains("8:completei"), !reply.contains("8:completei0e") { return }
            if case .exited(let termination) = processes.state(of: pid) {
                throw CommandFailure("the seeding aria2c exited (\(termination)): \(processes.logTail(log))")
            }
            try BenchInterruption.shared.check()
            usleep(50_000)
        }
        throw CommandFailure("the tracker never listed the seeder: \(processes.logTail(log))")
    }
}
