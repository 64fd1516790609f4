import Foundation
import PeerDistCommandSupport

/// A program a benchmark runs, and the Debian package that installs it, so that a missing one is
/// reported by name before any work starts rather than as a failure halfway through.
struct RequiredTool: Hashable {
    let program: String
    let package: String

    init(_ program: String, package: String) {
        self.program = program
        self.package = package
    }

    /// Found on `PATH` or in the system directories a root shell would also search.
    var isInstalled: Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return directories.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }

    /// Throws one line naming every missing program and its package.
    static func check(_ tools: [RequiredTool]) throws {
        var seen = Set<RequiredTool>()
        let missing = tools.filter { seen.insert($0).inserted && !$0.isInstalled }
        guard !missing.isEmpty else { return }
        let names = missing.map { "\($0.program) (Debian package \($0.package))" }.joined(separator: ", ")
        throw CommandFailure("missing \(names); install with apt-get or scripts/install-dependencies --bench")
    }
}
