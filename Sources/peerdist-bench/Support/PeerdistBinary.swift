import Foundation
import PeerDistCommandSupport

/// The `peerdist` binary the benchmarks measure: `$PEERDIST_BINARY`, else the one built beside
/// this program (`swift build` puts every product of a configuration in one directory).
enum PeerdistBinary {
    static func path() throws -> String {
        if let override = ProcessInfo.processInfo.environment["PEERDIST_BINARY"], !override.isEmpty {
            return try checked(override)
        }
        let benchmark = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return try checked((benchmark as NSString).deletingLastPathComponent + "/peerdist")
    }

    private static func checked(_ path: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CommandFailure("no peerdist binary at \(path); build it (swift build -c release --product peerdist) or run scripts/bench")
        }
        return path
    }
}
