import Foundation
import PeerDistTestHosts

/// The phases `peerdist-bench mirror` times, in the order they are printed.
enum MirrorPhase: CaseIterable {
    /// The whole tree to followers with empty directories.
    case initial
    /// The same followers after 1 % of the files changed.
    case change
    /// The tree of small files alone to followers with empty directories.
    case smallFiles

    var title: String {
        switch self {
        case .initial: "initial mirror"
        case .change: "after the change"
        case .smallFiles: "small files only"
        }
    }

    /// For log file names.
    var logName: String {
        switch self {
        case .initial: "initial"
        case .change: "change"
        case .smallFiles: "small"
        }
    }
}

/// One phase of one method in one run.
struct MirrorPhaseResult {
    let method: MirrorMethodKind
    let phase: MirrorPhase
    /// Until every follower was up to date; `nil` when the phase failed.
    let seconds: Double?
    let failure: String?
    /// Every process of the method on every host, over the phase.
    let cpuSeconds: Double
    /// Bytes all hosts sent over the phase (`tx_bytes` of every host's interface, summed).
    let wireBytes: Int
    /// Of `seconds`, the time the method took to publish a version (peerdist).
    let publishSeconds: Double?
    /// The largest peak resident memory of one process of the method, up to the phase's end.
    var peakResidentBytes = 0
}

/// One method mirroring one tree with fresh followers: the tree written on the publisher,
/// servers and nodes started, then the initial mirror timed and, with changes, the change made
/// and the second phase timed. After each phase (with the clock stopped) every follower's tree
/// is compared with the publisher's; a difference fails the phase.
struct MirrorTrial {
    let method: MirrorMethodKind
    let setup: MirrorSetup
    let layout: MirrorTreeLayout
    /// `.initial` or `.smallFiles`: the name the first phase is reported under.
    let firstPhase: MirrorPhase
    /// With changes, a second phase follows the first.
    let changes: MirrorTreeChanges?
    /// Distinguishes this trial's control group from every other on the machine.
    let trialName: String
    /// For each phase.
    let limit: Duration
    let writer: MirrorTreeWriter

    func run() throws -> [MirrorPhaseResult] {
        let files = FileManager.default
        try files.createDirectory(atPath: "\(setup.directory)/publisher", withIntermediateDirectories: true)
        defer { try? files.removeItem(atPath: setup.directory) }
        try writer.write(layout, to: setup.publisherTree)
        for index in setup.followers.indices {
            try files.createDirectory(atPath: setup.followerTree(index), withIntermediateDirectories: true)
        }
        let processes = try SwarmProcesses(groupName: trialName, logDirectory: "\(setup.directory)/logs")
        defer { processes.stopAll() }

        let implementation = method.make(setup, processes)
        let phases = changes == nil ? [firstPhase] : [firstPhase, .change]
        do {
            try implementation.prepare()
        } catch let error as BenchInterrupted {
            throw error
        } catch {
            return phases.map { failed($0, "could not start: \(error)") }
        }

        var results = [try measure(firstPhase, implementation, processes)]
        if let changes {
            if results[0].seconds == nil {
                results.append(failed(.change, "the initial mirror failed"))
            } else {
                try changes.apply(to: setup.publisherTree, with: writer)
                results.append(try measure(.change, implementation, processes))
            }
        }
        return results
    }

    private func measure(_ phase: MirrorPhase, _ implementation: any MirrorMethod, _ processes: SwarmProcesses) throws -> MirrorPhaseResult {
        try FreedMemorySettling.wait()
        let cpuBefore = processes.cpuSeconds
        let sentBefore = sentBytes()
        let started = ContinuousClock.now
        let publishSeconds: Double?
        do {
            publishSeconds = try implementation.synchronize(phase: phase.logName, deadline: started + limit)
        } catch let error as BenchInterrupted {
            throw error
        } catch {
            return failed(phase, "\(error)")
        }
        let seconds = (ContinuousClock.now - started).seconds
        let cpuSeconds = processes.cpuSeconds - cpuBefore
        let sent = sentBytes() - sentBefore
        let peak = processes.peakResidentBytes

        // Checked after the clock stopped, so that no method pays for the check.
        let original = try TreeComparison.entries(under: setup.publisherTree)
        for index in setup.followers.indices {
            try BenchInterruption.shared.check()
            if let difference = TreeComparison.firstDifference(original: setup.publisherTree, entries: original, copy: setup.followerTree(index)) {
                return failed(phase, "follower \(index + 1)'s tree differs from the publisher's: \(difference)")
            }
        }
        return MirrorPhaseResult(
            method: method, phase: phase, seconds: seconds, failure: nil, cpuSeconds: cpuSeconds, wireBytes: sent, publishSeconds: publishSeconds,
            peakResidentBytes: peak)
    }

    /// What every host has sent so far.
    private func sentBytes() -> Int {
        setup.hosts.reduce(0) { $0 + setup.network.transmittedBytes(of: $1) }
    }

    private func failed(_ phase: MirrorPhase, _ reason: String) -> MirrorPhaseResult {
        MirrorPhaseResult(method: method, phase: phase, seconds: nil, failure: reason, cpuSeconds: 0, wireBytes: 0, publishSeconds: nil)
    }
}
