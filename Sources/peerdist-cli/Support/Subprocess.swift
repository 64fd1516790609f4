import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Other programs run by `peerdist bench`: baselines, and peers in other network namespaces.
///
/// Spawned with an empty signal mask and default signal handlers: the threads of this process
/// block signals, and a child that inherited that mask would never see its own timers
/// (`openssl speed` stops on SIGALRM) or a SIGTERM.
enum Subprocess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What a finished run cost.
    struct Measurement {
        var output: String
        var wallSeconds: Double
        /// User plus system time of the process and the children it waited for.
        var cpuSeconds: Double
        /// Sampled from `/proc/PID/status` (`VmHWM`) while the child runs: the kernel's `ru_maxrss`
        /// for a spawned child starts from the parent's size, which would measure us.
        var peakResidentBytes: Int
    }

    /// - Parameter errorPath: where the program's standard error goes (else nowhere).
    @discardableResult
    static func run(_ arguments: [String], captureOutput: Bool = false, errorPath: String? = nil) throws -> String {
        try runMeasured(arguments, captureOutput: captureOutput, errorPath: errorPath).output
    }

    static func runMeasured(_ arguments: [String], captureOutput: Bool = false, errorPath: String? = nil) throws -> Measurement {
        let errorLog = try errorPath.map(openLog)
        defer { if let errorLog { close(errorLog) } }
        var pipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&pipe) == 0 else { throw Failure(description: "cannot create a pipe") }
        // Only the child's standard output may hold the write end, or reading would never end.
        _ = fcntl(pipe[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipe[1], F_SETFD, FD_CLOEXEC)
        defer { close(pipe[0]) }
        let started = ContinuousClock.now
        let pid = try spawn(arguments, standardOutput: captureOutput ? pipe[1] : nil, standardError: errorLog)
        close(pipe[1])

        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while captureOutput {
            let count = read(pipe[0], &buffer, buffer.count)
            if count > 0 {
                output += buffer[..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        var status: Int32 = 0
        var usage = rusage()
        var peak = 0
        while true {
            peak = max(peak, residentHighWaterMark(of: pid))
            let reaped = wait4(pid, &status, WNOHANG, &usage)
            if reaped == pid || (reaped < 0 && errno != EINTR) { break }
            usleep(2_000)
        }
        let elapsed = ContinuousClock.now - started
        guard status == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) failed (wait status \(status))")
        }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return Measurement(
            output: String(decoding: output, as: UTF8.self),
            wallSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime), peakResidentBytes: peak)
    }

    /// Starts a program in the background; standard output and error go to `logPath` (or nowhere).
    static func start(_ arguments: [String], logPath: String? = nil) throws -> pid_t {
        guard let logPath else { return try spawn(arguments, standardOutput: nil) }
        let log = try openLog(logPath)
        defer { close(log) }
        return try spawn(arguments, standardOutput: log, standardError: log)
    }

    /// Starts a program in the background with standard output to `outputPath` and standard
    /// error to `errorPath`, for a program whose output is to be read apart from its complaints.
    static func start(_ arguments: [String], outputPath: String, errorPath: String) throws -> pid_t {
        let output = try openLog(outputPath)
        defer { close(output) }
        let error = try openLog(errorPath)
        defer { close(error) }
        return try spawn(arguments, standardOutput: output, standardError: error)
    }

    private static func openLog(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure(description: "cannot create \(path)") }
        return descriptor
    }

    /// Sends SIGTERM, then SIGKILL after `grace`, and reaps the process.
    static func stop(_ pid: pid_t, grace: Duration = .seconds(5)) {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return
            }
            usleep(10_000)
        }
    }

    /// "exit status 2" or "killed by signal 9", from a status `waitpid` returned.
    static func describe(waitStatus status: Int32) -> String {
        status & 0x7F == 0 ? "exit status \((status >> 8) & 0xFF)" : "killed by signal \(status & 0x7F)"
    }

    /// User plus system CPU seconds a running process has used so far.
    static func cpuSeconds(of pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func residentHighWaterMark(of pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }

    private static func spawn(_ arguments: [String], standardOutput: Int32?, standardError: Int32? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let standardOutput {
            posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if let standardError {
            posix_spawn_file_actions_adddup2(&actions, standardError, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        var all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard spawned == 0 else {
            throw Failure(description: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        return pid
    }
}
