import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// The processes of one method in one swarm trial: servers, daemons and clients, each started in
/// a host's namespace and inside the trial's CPU accounting group, so that their CPU time is
/// counted together and they are all stopped together.
final class SwarmProcesses {
    enum State: Equatable {
        case running
        case exited(Termination)
    }

    private let group: CPUAccountingGroup
    /// Where each process's standard output and error go, one file per process.
    let logDirectory: String
    /// Every process started here, by process ID; swift-subprocess waits for each.
    private var started: [pid_t: RunningProcess] = [:]

    /// - Parameter groupName: a name for the CPU accounting group, unique on this machine.
    init(groupName: String, logDirectory: String) throws {
        self.logDirectory = logDirectory
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        group = try CPUAccountingGroup(name: groupName)
    }

    /// CPU seconds used so far by every process started here and by their children.
    var cpuSeconds: Double { group.cpuSeconds }

    /// The largest peak resident memory (VmHWM) of the processes started here that still run:
    /// the nodes and daemons, read before they are stopped.
    var peakResidentBytes: Int { started.keys.map(ProcessTable.residentHighWaterMark(of:)).max() ?? 0 }

    /// Starts `arguments` in `host`'s namespace with output to `<logDirectory>/<log>`.
    @discardableResult
    func start(_ arguments: [String], in host: NetworkHosts.Host, log: String) throws -> pid_t {
        let process = try ChildProcess.start(group.wrapping(["ip", "netns", "exec", host.namespace] + arguments), logPath: logPath(log))
        started[process.pid] = process
        return process.pid
    }

    /// Starts `arguments` in `host`'s namespace with standard output to `<logDirectory>/<output>`
    /// and standard error to `<logDirectory>/<log>`.
    @discardableResult
    func start(_ arguments: [String], in host: NetworkHosts.Host, log: String, output: String) throws -> pid_t {
        let process = try ChildProcess.start(
            group.wrapping(["ip", "netns", "exec", host.namespace] + arguments), outputPath: logPath(output), errorPath: logPath(log))
        started[process.pid] = process
        return process.pid
    }

    /// Runs `arguments` in `host`'s namespace to the end and returns its standard output; throws
    /// with the tail of its standard error (kept in `log`) when it fails, or when it still runs
    /// at `deadline` (it is then killed).
    func run(_ arguments: [String], in host: NetworkHosts.Host, log: String, until deadline: ContinuousClock.Instant) throws -> String {
        let output = "\(log).out"
        let pid = try start(arguments, in: host, log: log, output: output)
        let command = arguments.prefix(3).map { ($0 as NSString).lastPathComponent }.joined(separator: " ")
        while true {
            switch state(of: pid) {
            case .exited(let termination) where termination.succeeded:
                return (try? String(contentsOfFile: logPath(output), encoding: .utf8)) ?? ""
            case .exited(let termination):
                throw CommandFailure("\(command) failed (\(termination)): \(logTail(log))")
            case .running:
                guard ContinuousClock.now < deadline else {
                    started[pid]?.send(SIGKILL)
                    throw CommandFailure("\(command) had not finished at the time limit: \(logTail(log))")
                }
                try BenchInterruption.shared.check()
                usleep(5_000)
            }
        }
    }

    /// Waits until every one of `processes` has exited; throws, naming it with `what(index)`,
    /// when one fails or when some still run at `deadline`.
    func waitForAll(_ processes: [(pid: pid_t, log: String)], what: (Int) -> String, until deadline: ContinuousClock.Instant) throws {
        var running = Set(processes.indices)
        while true {
            for index in running.sorted() {
                switch state(of: processes[index].pid) {
                case .running: continue
                case .exited(let termination) where termination.succeeded: running.remove(index)
                case .exited(let termination):
                    throw CommandFailure("\(what(index)) failed (\(termination)): \(logTail(processes[index].log))")
                }
            }
            guard !running.isEmpty else { return }
            guard ContinuousClock.now < deadline else {
                throw CommandFailure("timed out with \(running.sorted().map(what).joined(separator: ", ")) still running")
            }
            try BenchInterruption.shared.check()
            usleep(5_000)
        }
    }

    func logPath(_ log: String) -> String { "\(logDirectory)/\(log)" }

    /// The last lines of a process's log, for an error message.
    func logTail(_ log: String, lines: Int = 3) -> String {
        let text = (try? String(contentsOfFile: logPath(log), encoding: .utf8)) ?? ""
        let tail = text.split(separator: "\n").suffix(lines).joined(separator: " / ")
        return tail.isEmpty ? "no output" : tail
    }

    /// Whether `pid`, started here, still runs, or how it ended.
    func state(of pid: pid_t) -> State {
        guard let process = started[pid] else { return .exited(.exited(code: -1)) }
        return process.termination.map(State.exited) ?? .running
    }

    /// Waits until `pid`'s log contains `text`; fails at once if the process exits, or after `limit`.
    func waitForLog(_ log: String, containing text: String, pid: pid_t, limit: Duration = .seconds(20)) throws {
        try waitUntil("\(log) to report \"\(text)\"", log: log, pid: pid, limit: limit) {
            ((try? String(contentsOfFile: logPath(log), encoding: .utf8)) ?? "").contains(text)
        }
    }

    /// Waits until something in `host`'s namespace accepts TCP connections on `port`.
    func waitUntilListening(on port: Int, in host: NetworkHosts.Host, log: String, pid: pid_t, limit: Duration = .seconds(20)) throws {
        try waitUntil("\(log) to listen on port \(port)", log: log, pid: pid, limit: limit) {
            let listening = try? ChildProcess.run(["ip", "netns", "exec", host.namespace, "ss", "-Hltn", "sport = :\(port)"])
            return !(listening ?? "").isEmpty
        }
    }

    private func waitUntil(_ what: String, log: String, pid: pid_t, limit: Duration, _ ready: () -> Bool) throws {
        let deadline = ContinuousClock.now + limit
        while !ready() {
            if case .exited(let termination) = state(of: pid) {
                throw CommandFailure("\(log) exited (\(termination)) before it was ready: \(logTail(log))")
            }
            guard ContinuousClock.now < deadline else { throw CommandFailure("gave up waiting for \(what): \(logTail(log))") }
            try BenchInterruption.shared.check()
            usleep(20_000)
        }
    }

    /// Stops every process still running (SIGTERM, then SIGKILL), then anything left in the group.
    func stopAll() {
        let processes = Array(started.values)
        processes.forEach { $0.send(SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(3)
        while processes.contains(where: { $0.termination == nil }), ContinuousClock.now < deadline {
            usleep(20_000)
        }
        for process in processes where process.termination == nil {
            process.send(SIGKILL)
            process.waitUntilExit()
        }
        // Children of what was started (nginx workers, rsync's per-connection processes).
        group.remove()
    }
}
