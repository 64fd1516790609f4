import Foundation
import PeerDist
import Testing
import PeerDistStore

@Suite struct AtomicFileTests {
    private func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-atomic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func writesAndReplaces() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/file"
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write([4, 5], to: path)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == [4, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["file"])
    }

    @Test func refusesToReplaceWhenAskedNotTo() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/file"
        try AtomicFile.write([1], to: path)
        #expect(throws: AtomicFile.WriteError.self) { try AtomicFile.write([2], to: path, replacing: false) }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == [1])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["file"])
    }

    @Test func failsCleanlyInAMissingDirectory() throws {
        let error = try #require(throws: AtomicFile.WriteError.self) { try AtomicFile.write([1], to: "/nonexistent-dir/file") }
        #expect(error.description.contains("No such file or directory"))
    }

    // /dev/full accepts opens and fails every write with ENOSPC; a directory can't hold it, so
    // the test mounts a tiny tmpfs, which needs root.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/bin/mount"), "mounting a tmpfs needs root and mount"))
    func aFullDiskLeavesNothingBehind() throws {
        let directory = try scratch()
        defer {
            _ = try? Subprocess.run("/bin/umount", directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        try #require(try Subprocess.run("/bin/mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", directory) == 0)
        let error = try #require(throws: AtomicFile.WriteError.self) {
            try AtomicFile.write([UInt8](repeating: 1, count: 1 << 20), to: "\(directory)/big")
        }
        #expect(error.description.contains("No space left on device"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}

private enum Subprocess {
    @discardableResult
    static func run(_ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
