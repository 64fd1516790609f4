import Foundation

/// Runs the `peerdist` binary built beside this test bundle and collects what it printed.
struct CommandResult {
    let status: Int32
    let output: Data
    let standardError: String

    var standardOutput: String { String(decoding: output, as: UTF8.self) }

    /// The error lines as the user sees them (progress lines on standard error are not errors).
    var errorLines: [Substring] { standardError.split(separator: "\n").filter { $0.hasPrefix("Error:") } }
}

enum Peerdist {
    static let binary = built("peerdist", override: "PEERDIST_BINARY")
    /// The node that corrupts what it serves (test-only target `peerdist-liar`).
    static let liar = built("peerdist-liar")
    /// The benchmark harness (`peerdist-bench`).
    static let bench = built("peerdist-bench")

    /// A binary this test target depends on, which SwiftPM builds beside the test bundle.
    private static func built(_ name: String, override: String? = nil) -> URL {
        if let override, let path = ProcessInfo.processInfo.environment[override] {
            return URL(fileURLWithPath: path)
        }
        let testExecutable = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        return testExecutable.deletingLastPathComponent().appendingPathComponent(name)
    }

    @discardableResult
    static func run(_ arguments: String...) throws -> CommandResult {
        try run(arguments)
    }

    /// Runs the binary, inside network namespace `namespace` when one is given.
    static func run(_ arguments: [String], namespace: String? = nil) throws -> CommandResult {
        try runTool([binary.path] + arguments, namespace: namespace)
    }

    /// Runs any command (found on the `PATH`), inside network namespace `namespace` when one is
    /// given. Output goes to files rather than pipes, so a chatty child can never block on a full pipe.
    static func runTool(_ command: [String], namespace: String? = nil) throws -> CommandResult {
        let scratch = try ScratchDirectory()
        let outputPath = scratch.child("stdout")
        let errorPath = scratch.child("stderr")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = (namespace.map { ["ip", "netns", "exec", $0] } ?? []) + command
        try process.run(output: outputPath, error: errorPath)
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            output: try Data(contentsOf: URL(fileURLWithPath: outputPath)),
            standardError: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errorPath)), as: UTF8.self))
    }
}

extension Process {
    /// Starts the process with its standard output and error going to new empty files at `output`
    /// and `error` (which may be the same), nothing on its standard input, and no crash backtraces.
    func run(output: String, error: String) throws {
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        if error != output { _ = FileManager.default.createFile(atPath: error, contents: nil) }
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        self.environment = environment
        standardOutput = FileHandle(forWritingAtPath: output)
        standardError = FileHandle(forWritingAtPath: error)
        standardInput = FileHandle.nullDevice
        try run()
    }
}

/// A scratch directory removed when the test ends.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String, bytes: [UInt8]) throws -> String {
        let file = "\(path)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func child(_ name: String) -> String { "\(path)/\(name)" }
}
