import Foundation

/// A `peerdist serve` (or another node program) running in the background for a test, stopped (SIGTERM, then SIGKILL)
/// when the test lets go of it, whatever happened.
final class NodeProcess: @unchecked Sendable {
    let process = Process()
    let dataDirectory: String
    private(set) var address = ""
    private let logPath: String

    /// Starts `program` (`peerdist serve` unless told; optionally inside a network namespace, or
    /// through `launcher`, a command that runs the rest of its arguments in its place) and waits
    /// until it listens.
    init(
        dataDirectory: String, listen: String = "[::1]:0", namespace: String? = nil, launcher: [String] = [], extraArguments: [String] = [],
        program: [String] = [Peerdist.binary.path, "serve"]
    ) throws {
        self.dataDirectory = dataDirectory
        logPath = dataDirectory + ".log"
        let serve = program + ["--data-dir", dataDirectory, "--listen", listen] + extraArguments
        if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", namespace] + launcher + serve
        } else if !launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = launcher + serve
        } else {
            process.executableURL = URL(fileURLWithPath: serve[0])
            process.arguments = Array(serve.dropFirst())
        }
        try process.run(output: logPath, error: logPath)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").first(where: { $0.contains("listening on ") }) {
                address = String(line.split(separator: " ").last ?? "")
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop()
        throw NodeStartFailure(log: (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }

    struct NodeStartFailure: Error, CustomStringConvertible {
        let log: String
        var description: String { "the node did not start: \(log)" }
    }

    /// The port the node listens on.
    var port: String { String(address.split(separator: ":").last ?? "") }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Peak resident memory so far (`VmHWM`), in bytes; 0 once the process is gone.
    var peakResidentBytes: Int {
        residentField("VmHWM")
    }

    var residentBytes: Int {
        residentField("VmRSS")
    }

    private func residentField(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
              let kilobytes = Int(line.split(separator: " ")[1])
        else { return 0 }
        return kilobytes * 1024
    }

    /// Asks the node to stop (SIGTERM) and waits `grace` seconds for it before SIGKILL.
    /// `false` when it had to be killed.
    @discardableResult
    func stop(grace: TimeInterval = 5) -> Bool {
        guard process.isRunning else { return true }
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let stoppedInTime = !process.isRunning
        if !stoppedInTime { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return stoppedInTime
    }

    deinit {
        stop()
    }
}
