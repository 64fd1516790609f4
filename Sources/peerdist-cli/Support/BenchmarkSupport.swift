import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion; throws when it cannot start or fails.
///
/// Spawned with an empty signal mask and default signal handlers: the threads of this process
/// block signals, and a child that inherited that mask would never see its own timers
/// (`openssl speed` stops on SIGALRM).
enum Subprocess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    @discardableResult
    static func run(_ arguments: [String], captureOutput: Bool = false) throws -> String {
        try runMeasured(arguments, captureOutput: captureOutput).output
    }

    /// Runs the command and also returns its peak resident memory, in bytes.
    ///
    /// The peak is sampled from `/proc/PID/status` (`VmHWM`) while the child runs: the kernel's
    /// `ru_maxrss` for a spawned child starts from the parent's size, which would measure us.
    static func runMeasured(_ arguments: [String], captureOutput: Bool = false) throws -> (output: String, peakResidentBytes: Int) {
        var pipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&pipe) == 0 else { throw Failure(description: "cannot create a pipe") }
        // Only the child's standard output may hold the write end, or reading would never end.
        _ = fcntl(pipe[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipe[1], F_SETFD, FD_CLOEXEC)
        defer { close(pipe[0]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, pipe[0])

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
        close(pipe[1])
        guard spawned == 0 else {
            throw Failure(description: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }

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
        var peak = 0
        while true {
            peak = max(peak, residentHighWaterMark(of: pid))
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno != EINTR) { break }
            usleep(2_000)
        }
        guard status == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) failed (wait status \(status))")
        }
        return (String(decoding: output, as: UTF8.self), peak)
    }

    private static func residentHighWaterMark(of pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }
}

/// OpenSSL's own measurement of a digest's raw speed on 16 KiB buffers, in MB/s.
enum OpenSSLSpeed {
    /// With `processes` above 1, the combined speed of that many processes (`openssl speed -multi`):
    /// the most this machine's cores deliver together.
    static func measure(_ digest: String, processes: Int = 1) -> Double? {
        let multi = processes > 1 ? ["-multi", "\(processes)"] : []
        guard let output = try? Subprocess.run(["openssl", "speed"] + multi + ["-evp", digest, "-bytes", "16384", "-seconds", "3"], captureOutput: true) else {
            return nil
        }
        // The result line reads "sha256   1746973.26k": thousands of bytes per second.
        for line in output.split(separator: "\n") where line.hasPrefix(digest) {
            if let field = line.split(separator: " ").last, field.hasSuffix("k"), let thousands = Double(field.dropLast()) {
                return thousands / 1000
            }
        }
        return nil
    }
}

/// A file of pseudo-random bytes (incompressible, so no layer below can shortcut it).
enum BenchmarkFile {
    static func write(path: String, size: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure("\(path): cannot create the benchmark file")
        }
        defer { try? handle.close() }
        var state: UInt64 = 0x853C_49E6_748F_EA9B
        var chunk = [UInt64](repeating: 0, count: 1 << 20)
        var remaining = size
        while remaining > 0 {
            for index in chunk.indices {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                chunk[index] = z ^ (z >> 31)
            }
            let count = min(remaining, chunk.count * 8)
            try chunk.withUnsafeBytes { try handle.write(contentsOf: Data($0.prefix(count))) }
            remaining -= count
        }
    }
}
