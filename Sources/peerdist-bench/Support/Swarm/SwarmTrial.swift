import Foundation
import PeerDistTestHosts

/// One method distributing the file once: set up, start every leecher at once, poll until the
/// last one holds the whole file (or the time limit passes), then stop everything and check every
/// leecher's bytes against the original.
struct SwarmTrial<Kind: SwarmMethodChoice> {
    struct Sample {
        let seconds: Double
        let bytes: Int
    }

    struct Result {
        let method: Kind
        /// Until the last leecher held the whole file; `nil` when the trial failed.
        let seconds: Double?
        let failure: String?
        /// Every process of the method on both sides, from the start of the clock to its end.
        let cpuSeconds: Double
        /// The seeder interface's `tx_bytes` over the same span.
        let seederSentBytes: Int
        /// TCP segments the seeder sent again over the same span, which `seederSentBytes` includes.
        let seederRetransmissions: Int
        /// The largest peak resident memory of one process of the method (seeder, node or daemon).
        var peakResidentBytes = 0
        /// Per leecher, what it held over time.
        let progress: [[Sample]]
    }

    /// How often leechers are polled: fine enough for the progress plot and for the end time,
    /// coarse enough that polling costs little of the processors the transfer runs on.
    private static var pollInterval: useconds_t { 25_000 }

    let method: Kind
    let setup: SwarmSetup
    /// Distinguishes this trial's control group from every other on the machine.
    let trialName: String
    let limit: Duration

    func run() throws -> Result {
        try FileManager.default.createDirectory(atPath: setup.directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let processes = try SwarmProcesses(groupName: trialName, logDirectory: "\(setup.directory)/logs")
        defer { processes.stopAll() }
        let implementation = method.make(setup, processes)
        do {
            try implementation.prepare()
        } catch let error as BenchInterrupted {
            throw error
        } catch {
            return failed("could not start: \(error)", progress: [])
        }

        try FreedMemorySettling.wait()
        let cpuBefore = processes.cpuSeconds
        let sentBefore = setup.network.transmittedBytes(of: setup.seeder)
        let retransmittedBefore = setup.network.retransmittedSegments(of: setup.seeder)
        let started = ContinuousClock.now
        func elapsed() -> Double { (ContinuousClock.now - started).seconds }

        let transfers: [LeecherTransfer]
        do {
            transfers = try implementation.startLeechers()
        } catch {
            return failed("could not start the leechers: \(error)", progress: [])
        }
        var progress = [[Sample]](repeating: [Sample(seconds: 0, bytes: 0)], count: transfers.count)
        var finished = [Double?](repeating: nil, count: transfers.count)
        while finished.contains(where: { $0 == nil }) {
            try BenchInterruption.shared.check()
            let now = elapsed()
            for (index, transfer) in transfers.enumerated() where finished[index] == nil {
                let complete: Bool
                do {
                    complete = try transfer.isComplete()
                } catch {
                    return failed("leecher \(index + 1): \(error)", progress: progress)
                }
                let bytes = complete ? setup.contentSize : transfer.heldBytes()
                if bytes != progress[index].last?.bytes { progress[index].append(Sample(seconds: now, bytes: bytes)) }
                if complete { finished[index] = now }
            }
            if now > limit.seconds {
                let held = transfers.indices.map { finished[$0] != nil ? 100 : 100 * (progress[$0].last?.bytes ?? 0) / max(1, setup.contentSize) }
                return failed("timed out after \(Int(limit.seconds)) s with the leechers at \(held.map { "\($0)%" }.joined(separator: ", "))", progress: progress)
            }
            if finished.contains(where: { $0 == nil }) { usleep(Self.pollInterval) }
        }
        let seconds = finished.compactMap { $0 }.max() ?? elapsed()
        let cpuSeconds = processes.cpuSeconds - cpuBefore
        let sent = setup.network.transmittedBytes(of: setup.seeder) - sentBefore
        let retransmitted = setup.network.retransmittedSegments(of: setup.seeder) - retransmittedBefore
        let peak = processes.peakResidentBytes
        processes.stopAll()

        // Checked after the clock stopped, so that no method pays for the check.
        for (index, transfer) in transfers.enumerated() where !FileComparison.identical(transfer.output, setup.content) {
            return failed("leecher \(index + 1)'s \(transfer.output) is not identical to the original", progress: progress)
        }
        return Result(
            method: method, seconds: seconds, failure: nil, cpuSeconds: cpuSeconds, seederSentBytes: sent, seederRetransmissions: retransmitted,
            peakResidentBytes: peak, progress: progress)
    }

    private func failed(_ reason: String, progress: [[Sample]]) -> Result {
        Result(method: method, seconds: nil, failure: reason, cpuSeconds: 0, seederSentBytes: 0, seederRetransmissions: 0, progress: progress)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
