import Dispatch
import Foundation
import Subprocess
import Synchronization

/// Other programs, run from synchronous code through swift-subprocess: baselines, peers in other
/// network namespaces, `tc`. Callers block until swift-subprocess's tasks are done, so they
/// must not be on Swift's cooperative pool (see `Blocking.wait`).
///
/// swift-subprocess starts every child with an empty signal mask and default signal handlers (both
/// its `posix_spawn` path and its fork/exec fallback), which is what these children need: the
/// threads of this process block signals, and a child that inherited that mask would never see its
/// own timers (`openssl speed` stops on SIGALRM) or a SIGTERM.
package enum ChildProcess {
    /// What a finished run cost.
    package struct Measurement: Sendable {
        package var output: String
        package var wallSeconds: Double
        /// User plus system time of the process and the children it waited for.
        package var cpuSeconds: Double
        /// Sampled from `/proc/PID/status` (`VmHWM`) while the child runs: the kernel's `ru_maxrss`
        /// for a spawned child starts from the parent's size, which would measure us.
        package var peakResidentBytes: Int
    }

    /// Runs `arguments` to the end and returns its standard output; throws, with the end of its
    /// standard error, when it fails.
    /// - Parameter errorPath: where the program's standard error goes (else it is kept for the error message).
    @discardableResult
    package static func run(_ arguments: [String], errorPath: String? = nil) throws(ChildProcessFailure) -> String {
        let command = try Command(arguments)
        let errorLog = try errorPath.map { path throws(ChildProcessFailure) in try Descriptor.log(path) }
        defer { errorLog?.close() }
        let outcome = Blocking.wait { () async -> Result<(String, String, Termination), ChildProcessFailure> in
            do {
                if let errorLog {
                    let result = try await Subprocess.run(
                        command.executable, arguments: command.arguments, input: .none, output: .string(limit: Self.outputLimit),
                        error: .fileDescriptor(.init(rawValue: errorLog.raw), closeAfterSpawningProcess: false))
                    return .success((result.standardOutput, "", Termination(result.terminationStatus)))
                }
                let result = try await Subprocess.run(
                    command.executable, arguments: command.arguments, input: .none, output: .string(limit: Self.outputLimit),
                    error: .string(limit: Self.outputLimit))
                return .success((result.standardOutput, result.standardError, Termination(result.terminationStatus)))
            } catch {
                return .failure(ChildProcessFailure(command: command.text, reason: "cannot run it: \(error)"))
            }
        }
        let (output, errorText, termination) = try outcome.get()
        guard termination.succeeded else {
            let tail = errorText.split(separator: "\n").suffix(3).joined(separator: " / ")
            throw ChildProcessFailure(command: command.text, reason: "failed (\(termination))" + (tail.isEmpty ? "" : ": \(tail)"))
        }
        return output
    }

    /// Runs `arguments` to the end with its output discarded, measuring its wall time, CPU time and
    /// peak resident memory.
    ///
    /// CPU time is the growth of this process's `RUSAGE_CHILDREN` over the run: swift-subprocess
    /// reaps the child, and reaping adds its time (and that of the children it waited for) there.
    /// Callers run nothing else to its end meanwhile, or that would be counted too.
    package static func runMeasured(_ arguments: [String]) throws(ChildProcessFailure) -> Measurement {
        let cpuBefore = ChildrenUsage.cpuSeconds()
        let started = ContinuousClock.now
        let process = try start(arguments)
        var peak = 0
        while process.termination == nil {
            peak = max(peak, ProcessTable.residentHighWaterMark(of: process.pid))
            usleep(2_000)
        }
        let termination = process.waitUntilExit()
        let elapsed = (process.endedAt ?? ContinuousClock.now) - started
        guard termination.succeeded else {
            throw ChildProcessFailure(command: arguments.joined(separator: " "), reason: "failed (\(termination))")
        }
        return Measurement(
            output: "", wallSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            cpuSeconds: ChildrenUsage.cpuSeconds() - cpuBefore, peakResidentBytes: peak)
    }

    /// Starts a program in the background; standard output and error go to `logPath` (or nowhere).
    package static func start(_ arguments: [String], logPath: String? = nil) throws(ChildProcessFailure) -> RunningProcess {
        let log = try Descriptor.log(logPath ?? "/dev/null")
        defer { log.close() }
        return try RunningProcess.start(Command(arguments), output: log, error: log)
    }

    /// Starts a program in the background with standard output to `outputPath` and standard
    /// error to `errorPath`, for a program whose output is to be read apart from its complaints.
    package static func start(_ arguments: [String], outputPath: String, errorPath: String) throws(ChildProcessFailure) -> RunningProcess {
        let output = try Descriptor.log(outputPath)
        defer { output.close() }
        let error = try Descriptor.log(errorPath)
        defer { error.close() }
        return try RunningProcess.start(Command(arguments), output: output, error: error)
    }

    /// Collected output above this is an error rather than memory without end.
    private static let outputLimit = 64 << 20
}

/// A program, its arguments and how swift-subprocess finds it: by `PATH` for a bare name.
struct Command: Sendable {
    let executable: Executable
    let arguments: Arguments
    let text: String

    init(_ words: [String]) throws(ChildProcessFailure) {
        guard let program = words.first, !program.isEmpty else {
            throw ChildProcessFailure(command: "", reason: "no program to run")
        }
        executable = program.contains("/") ? .path(.init(program)) : .name(program)
        arguments = Arguments(Array(words.dropFirst()))
        text = words.joined(separator: " ")
    }
}

/// A program started in the background and watched from synchronous code. swift-subprocess waits
/// for it on its own thread, so this process must not `waitpid` for it.
package final class RunningProcess: Sendable {
    package let pid: pid_t
    private let ending = Mutex<(termination: Termination, at: ContinuousClock.Instant)?>(nil)
    private let ended = DispatchSemaphore(value: 0)

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// How it ended; `nil` while it runs.
    package var termination: Termination? { ending.withLock { $0?.termination } }

    var endedAt: ContinuousClock.Instant? { ending.withLock { $0?.at } }

    /// Waits for it to end by itself.
    @discardableResult
    package func waitUntilExit() -> Termination {
        if let termination { return termination }
        ended.wait()
        ended.signal()  // for any later waiter
        return termination ?? .exited(code: -1)
    }

    /// Sends `signal` while it runs (never to a reused process ID once it has been reaped).
    package func send(_ signal: Int32) {
        ending.withLock { if $0 == nil { _ = kill(pid, signal) } }
    }

    /// Sends SIGTERM, then SIGKILL after `grace`, and waits until it has ended.
    package func stop(grace: Duration = .seconds(5)) {
        send(SIGTERM)
        if ended.wait(timeout: .now() + .milliseconds(Int(grace.components.seconds * 1000))) == .timedOut {
            send(SIGKILL)
            ended.wait()
        }
        ended.signal()
    }

    fileprivate func finish(_ termination: Termination) {
        ending.withLock { $0 = (termination, ContinuousClock.now) }
        ended.signal()
    }

    static func start(_ command: Command, output: Descriptor, error: Descriptor) throws(ChildProcessFailure) -> RunningProcess {
        let started = Blocking.Handoff<Result<RunningProcess, ChildProcessFailure>>()
        // Unstructured on purpose: the program outlives this call, and the task is its waiter.
        Task.detached {
            do {
                let result = try await Subprocess.run(
                    command.executable, arguments: command.arguments, input: .none,
                    output: .fileDescriptor(.init(rawValue: output.raw), closeAfterSpawningProcess: false),
                    error: .fileDescriptor(.init(rawValue: error.raw), closeAfterSpawningProcess: false)
                ) { execution in
                    let running = RunningProcess(pid: execution.processIdentifier.value)
                    started.put(.success(running))
                    return running
                }
                result.closureResult.finish(Termination(result.terminationStatus))
            } catch {
                started.put(.failure(ChildProcessFailure(command: command.text, reason: "cannot run it: \(error)")))
            }
        }
        // The descriptors stay open (the caller closes them) until the child holds its own copies.
        return try started.take().get()
    }
}

/// How a program ended.
package enum Termination: Equatable, Sendable, CustomStringConvertible {
    case exited(code: Int32)
    case killed(signal: Int32)

    init(_ status: TerminationStatus) {
        switch status {
        case .exited(let code): self = .exited(code: code)
        case .signaled(let signal): self = .killed(signal: signal)
        }
    }

    package var succeeded: Bool { self == .exited(code: 0) }

    /// "exit status 2" or "killed by signal 9".
    package var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .killed(let signal): "killed by signal \(signal)"
        }
    }
}

package struct ChildProcessFailure: Error, CustomStringConvertible {
    package let command: String
    package let reason: String
    package var description: String { "\(command): \(reason)" }
}

/// An open file descriptor for a child's output.
struct Descriptor: Sendable {
    let raw: Int32

    static func log(_ path: String) throws(ChildProcessFailure) -> Descriptor {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ChildProcessFailure(command: path, reason: "cannot create it: \(String(cString: strerror(errno)))") }
        return Descriptor(raw: descriptor)
    }

    func close() { _ = Glibc.close(raw) }
}

/// Waits on the calling (synchronous) thread for work done by a task.
enum Blocking {
    /// One value handed from a task to a waiting thread.
    final class Handoff<Value: Sendable>: Sendable {
        private let value = Mutex<Value?>(nil)
        private let ready = DispatchSemaphore(value: 0)

        func put(_ newValue: Value) {
            value.withLock { $0 = newValue }
            ready.signal()
        }

        func take() -> Value {
            while true {
                ready.wait()
                if let taken = value.withLock({ $0 }) { return taken }
            }
        }
    }

    /// Runs `work` in a task and waits for its result. Only from threads outside Swift's
    /// cooperative pool (the main thread of a synchronous command): swift-subprocess's tasks need
    /// pool threads, and blocking them all (two, on a two-core machine) would wait forever.
    static func wait<Value: Sendable>(_ work: @escaping @Sendable () async -> Value) -> Value {
        let handoff = Handoff<Value>()
        Task.detached { handoff.put(await work()) }
        return handoff.take()
    }
}

/// CPU time of this process's children that have ended and been waited for.
enum ChildrenUsage {
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// What `/proc` says about a running process.
package enum ProcessTable {
    /// User plus system CPU seconds a running process has used so far.
    package static func cpuSeconds(of pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Peak resident memory so far (`VmHWM`); 0 once the process has gone.
    package static func residentHighWaterMark(of pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }
}
