import Foundation
import PeerDistTestHosts
import Testing

/// Lying peers, dead peers, hostile bytes, a killed fetch and a full disk.
@Suite(.serialized) struct NodeFailureTests {
    typealias Helpers = PublishFetchTests

    /// Starts `peerdist ARGUMENTS --json`, reads its progress events, and sends `signal` once
    /// `held_bytes` reaches `threshold`. Returns the process (not yet reaped), the bytes held at
    /// the last event read, and where its standard error went.
    private func fetchUntil(
        _ arguments: [String], heldAtLeast threshold: Int, signal: Int32, scratch: ScratchDirectory
    ) throws -> (process: Process, held: Int, standardError: String) {
        try fetchWatching(arguments, heldAtLeast: threshold, scratch: scratch) { kill($0.processIdentifier, signal) }
    }

    /// Starts `peerdist ARGUMENTS --json`, reads its progress events, and runs `atThreshold` once
    /// `held_bytes` reaches `threshold`; then waits for it to end. Returns the process, the bytes
    /// held at the last event read, and where its standard error went.
    private func fetchWatching(
        _ arguments: [String], heldAtLeast threshold: Int, scratch: ScratchDirectory, atThreshold: (Process) throws -> Void
    ) throws -> (process: Process, held: Int, standardError: String) {
        let process = Process()
        process.executableURL = Peerdist.binary
        process.arguments = arguments + ["--json"]
        let pipe = Pipe()
        let errors = scratch.child("stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardOutput = pipe
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.run()
        var pending = ""
        var held = 0
        reading: while true {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            pending += String(decoding: data, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let line = pending[..<newline]
                pending = String(pending[pending.index(after: newline)...])
                guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let bytes = event["held_bytes"] as? Int
                else { continue }
                held = bytes
                if held >= threshold {
                    try atThreshold(process)
                    break reading
                }
            }
        }
        _ = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process, held, errors)
    }

    private func doneEvent(_ result: CommandResult) -> [String: Any]? {
        for line in result.standardOutput.split(separator: "\n").reversed() {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], object["event"] as? String == "done" {
                return object
            }
        }
        return nil
    }

    @Test func aLyingPeerIsDetectedAndItsBlocksNeverKept() throws {
        // Several pipelines' worth, so that both peers get requests whichever connects first.
        let (scratch, file, liar, uri) = try Helpers.published(size: 48 * 1024 * 1024 + 7, seed: 5, program: [Peerdist.liar.path])
        let honest = try NodeProcess(dataDirectory: scratch.child("honest"))
        #expect(try Helpers.publish(file, on: honest) == uri)

        // Only the liar: the fetch fails clearly and leaves nothing at the destination.
        let alone = scratch.child("from-liar")
        let failed = try Peerdist.run("fetch", uri, "--peer", liar.address, "--data-dir", scratch.child("victim"), "-o", alone)
        #expect(failed.status == 1)
        #expect(failed.errorLines.count == 1)
        #expect(failed.standardError.contains("failed verification"), "\(failed.standardError)")
        #expect(!FileManager.default.fileExists(atPath: alone))

        // The liar first, then an honest peer: the fetch completes with the right bytes.
        let output = scratch.child("fetched")
        let fetched = try Peerdist.run("fetch", uri, "--peer", liar.address, "--peer", honest.address, "--data-dir", scratch.child("victim"), "-o", output, "--json")
        #expect(fetched.status == 0, "\(fetched.standardError)")
        #expect(FileComparison.identical(file, output))
        let rejected = try #require(doneEvent(fetched)?["rejected_blocks"] as? Int)
        #expect(rejected >= 1)
    }

    /// Fetches `size` fresh bytes from a seeder at `rate`, sends `signal` to the fetch once it holds
    /// `threshold` bytes, lets `checkStopped` look at the stopped run (its process, the bytes it
    /// held, where its standard error went), then runs the same fetch again to the end. Returns the
    /// bytes held when stopped and what the second run received.
    private func resumedFetch(
        size: Int, seed: UInt64, rate: String, stopAt threshold: Int, signal: Int32,
        checkStopped: (Process, Int, String) throws -> Void
    ) throws -> (held: Int, received: Int) {
        let (scratch, file, seeder, uri) = try Helpers.published(size: size, seed: seed)
        let output = scratch.child("fetched")
        let leecher = scratch.child("leecher")

        let (first, held, errors) = try fetchUntil(
            ["fetch", uri, "--peer", seeder.address, "--data-dir", leecher, "-o", output, "--max-download", rate],
            heldAtLeast: threshold, signal: signal, scratch: scratch)
        try checkStopped(first, held, errors)
        #expect(!FileManager.default.fileExists(atPath: output))

        let second = try Peerdist.run("fetch", uri, "--peer", seeder.address, "--data-dir", leecher, "-o", output, "--json")
        #expect(second.status == 0, "\(second.standardError)")
        #expect(FileComparison.identical(file, output))
        return (held, try #require(doneEvent(second)?["received_bytes"] as? Int))
    }

    @Test func aKilledFetchResumesWithoutFetchingVerifiedBlocksAgain() throws {
        let size = 96 * 1024 * 1024
        // First run, slowed down so it can be killed about half-way.
        let (heldAtKill, received) = try resumedFetch(size: size, seed: 6, rate: "48MiB", stopAt: size / 2, signal: SIGKILL) { first, heldAtKill, _ in
            #expect(first.terminationReason == .uncaughtSignal, "the first fetch finished before it could be killed")
            #expect(heldAtKill >= size / 2 && heldAtKill < size)
        }
        // About half again: what was verified and flushed before the kill is not fetched twice.
        #expect(received > 0 && received <= size - heldAtKill + 16 * 1024 * 1024, "received \(received) after holding \(heldAtKill)")
        #expect(received < size * 6 / 10)
    }

    @Test func aFetchFromOneNamedPeerConnectsAgainWhenThePeerRestarts() throws {
        let size = 32 * 1024 * 1024
        let (scratch, file, seeder, uri) = try Helpers.published(size: size, seed: 13)
        let output = scratch.child("fetched")
        var restarted: NodeProcess?
        defer { restarted?.stop() }
        // Slowed down, so that the peer goes away mid-fetch: killed, down for a second (the
        // fetch's first attempts to connect again are refused), then back on the same port.
        let (fetch, held, errors) = try fetchWatching(
            ["fetch", uri, "--peer", seeder.address, "--data-dir", scratch.child("leecher"), "-o", output, "--max-download", "16MiB"],
            heldAtLeast: size / 4, scratch: scratch
        ) { _ in
            kill(seeder.process.processIdentifier, SIGKILL)
            seeder.process.waitUntilExit()
            Thread.sleep(forTimeInterval: 1)
            restarted = try NodeProcess(dataDirectory: seeder.dataDirectory, listen: "[::1]:\(seeder.port)")
        }
        #expect(held >= size / 4 && held < size, "the fetch held \(held) bytes when its peer was killed")
        #expect(restarted != nil)
        #expect(fetch.terminationStatus == 0, "\((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        #expect(FileComparison.identical(file, output))
    }

    @Test func anInterruptedFetchKeepsEveryVerifiedBlock() throws {
        let size = 40 * 1024 * 1024
        let (lastHeld, received) = try resumedFetch(size: size, seed: 11, rate: "16MiB", stopAt: size / 4, signal: SIGINT) { (first, _, errors) throws in
            #expect(first.terminationStatus == 1)
            #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("interrupted; run the same command again"))
        }
        // Ctrl-C flushes: the second run fetches only what the first had not verified.
        #expect(received <= size - lastHeld, "received \(received) after holding \(lastHeld)")
    }

    @Test func malformedFramesDropOnlyThatConnection() throws {
        let (scratch, file, node, uri) = try Helpers.published(size: 1_000_000, seed: 7)
        let port = try #require(UInt16(node.port))
        let before = node.residentBytes

        let abuses: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
            [0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0x41, count: 4096),
            [0x00, 0x00, 0x00, 0x39] + Array("PDST".utf8) + [0, 1, 0, 1, 3],
            [0x00, 0x00, 0x00, 0x39] + Array("PDST".utf8) + [0, 9, 0, 9, 3] + [UInt8](repeating: 7, count: 48),
        ]
        for round in 0..<50 {
            for abuse in abuses {
                let socket = try RawSocket(port: port)
                socket.send(abuse)
                if round == 0, abuse.count > 20 {
                    // Complete messages that break the protocol are answered by closing at once.
                    #expect(socket.waitForClose())
                }
                socket.close()
            }
        }
        // A peer that stops mid-message, then a well-behaved fetch: the node still serves.
        let silent = try RawSocket(port: port)
        silent.send([0x00, 0x00, 0x00, 0x39, 0x50])
        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--peer", node.address, "--data-dir", scratch.child("leecher"), "-o", output)
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
        silent.close()
        #expect(node.residentBytes < before + 32 * 1024 * 1024, "resident memory grew from \(before) to \(node.residentBytes)")
    }

    @Test func noPlaintextCrossesTheWire() throws {
        let (scratch, file, node, uri) = try Helpers.published(size: 2 * 1024 * 1024, seed: 8)
        let relay = try RecordingRelay(to: try #require(UInt16(node.port)))

        let output = scratch.child("fetched")
        let fetch = try Peerdist.run("fetch", uri, "--peer", "[::1]:\(relay.port)", "--data-dir", scratch.child("leecher"), "-o", output)
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))

        let captured = relay.bytes
        #expect(captured.count > 2 * 1024 * 1024)
        let content = try Data(contentsOf: URL(fileURLWithPath: file))
        for offset in [0, 65_536 + 100, 1_500_000] {
            let pattern = content[offset..<offset + 64]
            #expect(Data(captured).range(of: pattern) == nil, "64 bytes of the file at \(offset) crossed the wire in the clear")
        }
    }

    @Test func everyMistakeGetsOneClearLine() throws {
        let (scratch, file, node, uri) = try Helpers.published(size: 300_000, seed: 9)
        let leecher = scratch.child("leecher")

        let unknown = try Peerdist.run("fetch", "peerdist:" + String(repeating: "a", count: 52), "--peer", node.address, "--data-dir", leecher, "-o", scratch.child("x"))
        #expect(unknown.status == 1 && unknown.errorLines.count == 1 && unknown.standardError.contains("no peer has content"), "\(unknown.standardError)")

        let unreachable = try Peerdist.run("fetch", uri, "--peer", "[::1]:1", "--data-dir", leecher, "-o", scratch.child("x"))
        #expect(unreachable.status == 1 && unreachable.errorLines.count == 1 && unreachable.standardError.contains("[::1]:1"), "\(unreachable.standardError)")

        let existing = try Peerdist.run("fetch", uri, "--peer", node.address, "--data-dir", leecher, "-o", file)
        #expect(existing.status == 1 && existing.standardError.contains("already exists"))

        let badID = try Peerdist.run("fetch", "not-an-id", "--data-dir", leecher)
        #expect(badID.status == 64 && badID.standardError.contains("is not a content ID"))

        let badPeer = try Peerdist.run("fetch", uri, "--peer", "nowhere:port", "--data-dir", leecher)
        #expect(badPeer.status == 64 && badPeer.standardError.contains("is not a peer address"))

        let missing = try Peerdist.run("publish", scratch.child("nonexistent"), "--data-dir", scratch.child("other"))
        #expect(missing.status == 1 && missing.errorLines.count == 1, "\(missing.standardError)")
        for result in [unknown, unreachable, existing, badID, badPeer, missing] {
            #expect(!result.standardError.contains("Fatal error") && !result.standardError.contains("Stack"))
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.child("x")))
    }

    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func aFullDiskFailsCleanly() throws {
        let (scratch, _, node, uri) = try Helpers.published(size: 4 * 1024 * 1024, seed: 10)
        let small = scratch.child("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]
        try mount.run()
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "mount -t tmpfs failed")
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = [small]
            try? unmount.run()
            unmount.waitUntilExit()
        }
        let output = "\(small)/fetched"
        let result = try Peerdist.run("fetch", uri, "--peer", node.address, "--data-dir", "\(small)/data", "-o", output)
        #expect(result.status == 1)
        #expect(result.errorLines.count == 1)
        #expect(result.standardError.contains("No space left on device") || result.standardError.contains("no space left on device"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
