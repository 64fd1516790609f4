import Foundation
import PeerDistTestHosts
import Testing

/// `serve --http-origin`: an MS-PCCRTP origin in one network namespace, asked from another by
/// Python's http.client as iPXE asks: Content Information where the headers ask for it, equal to
/// what `Tests/Reference/pccrc_reference.py` computes for the file and secret; bytes otherwise,
/// Range requests as 206; nothing outside the directory.
@Suite(.serialized) struct BranchCacheOriginTests {
    static let reference = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/pccrc_reference.py").path
    static let secret = "2a3d73eb435e9f2b8a344267e7467a3c7385c6e055e2b4d30dfec7c38b0ed72c"

    @Test(.needsNetworkHosts) func anOriginHandsOutContentInformationAndBytes() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let site = scratch.child("site")
        try FileManager.default.createDirectory(atPath: site + "/dir", withIntermediateDirectories: true)
        let file = site + "/dir/image.bin"
        try PublishFetchTests.makeFile(file, size: 200_000, seed: 8)
        try Data().write(to: URL(fileURLWithPath: site + "/empty"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: scratch.child("outside")))
        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.first,
            extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000", "--secret-hex", Self.secret])
        defer { node.stop() }

        let expected = try Peerdist.runTool(["python3", Self.reference, "ci-v1", file, Self.secret])
        #expect(expected.status == 0, "\(expected.standardError)")
        let script = """
            import http.client, sys
            host = sys.argv[1]
            def get(path, headers):
                connection = http.client.HTTPConnection(host, 8000, timeout=5)
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheader("Content-Encoding"), response.getheader("X-P2P-PeerDist"), response.read()
            peerdist = {"Accept-Encoding": "gzip, peerdist", "X-P2P-PeerDist": "Version=1.1",
                        "X-P2P-PeerDistEx": "MinContentInformation=1.0, MaxContentInformation=2.0"}
            status, encoding, header, body = get("/dir/image.bin", peerdist)
            print("ci", status, encoding, header, body.hex())
            status, encoding, _, body = get("/dir/image.bin", {})
            print("plain", status, encoding, len(body))
            status, _, _, body = get("/dir/image.bin", {"Range": "bytes=70000-70009"})
            print("range", status, body.hex())
            status, _, _, body = get("/dir/image.bin", {"X-P2P-PeerDist": "Version=1.1, MissingDataRequest=true", "Range": "bytes=0-3"})
            print("missing", status, len(body))
            status, encoding, _, body = get("/empty", peerdist)
            print("empty", status, encoding, len(body))
            for path in ["/../outside", "/dir/../../outside", "/%2e%2e/outside", "/dir", "/nothing"]:
                print("refused", path, get(path, {})[0])
            """
        let result = try Peerdist.runTool(["python3", "-c", script, "\(hosts.hosts[0].address)%\(hosts.secondInterface)"], namespace: hosts.second)
        #expect(result.status == 0, "\(result.standardError)\n\(node.log)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(lines.first == "ci 200 peerdist Version=1.0, ContentLength=200000 \(expected.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(lines.contains("plain 200 None 200000"))
        #expect(lines.contains("range 206 \(original[70_000..<70_010].map { String(format: "%02x", $0) }.joined())"))
        #expect(lines.contains("missing 206 4"))
        #expect(lines.contains("empty 200 None 0"), "an empty file goes as bytes")
        #expect(lines.filter { $0.hasPrefix("refused") }.allSatisfy { $0.hasSuffix(" 404") }, "\(lines)")
    }

    /// `fetch http://…` as BranchCache means it: the first client gets everything from the origin;
    /// once it serves what it fetched, a second client takes the Content Information from the
    /// origin and nearly every block from the first.
    @Test(.needsNetworkHosts) func aSecondFetchFromAnOriginGetsItsBlocksFromPeers() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let site = scratch.child("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let size = 6 * 1024 * 1024 + 5
        try PublishFetchTests.makeFile(site + "/file.bin", size: size, seed: 12)
        let origin = try NodeProcess(
            dataDirectory: scratch.child("origin"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000"])
        defer { origin.stop() }

        let first = try fetch(on: 1, of: hosts, dataDirectory: scratch.child("first"), output: scratch.child("first.bin"))
        #expect(first.fromOrigin >= size && first.fromPeers == 0 && first.rejected == 0, "\(first)")
        #expect(FileComparison.identical(site + "/file.bin", scratch.child("first.bin")))
        let server = try NodeProcess(dataDirectory: scratch.child("first"), listen: "[::]:0", namespace: hosts.hosts[1].namespace)
        defer { server.stop() }

        let second = try fetch(on: 2, of: hosts, dataDirectory: scratch.child("second"), output: scratch.child("second.bin"))
        #expect(FileComparison.identical(site + "/file.bin", scratch.child("second.bin")))
        #expect(Double(second.fromPeers) >= 0.95 * Double(size), "\(second)")
        #expect(second.fromOrigin <= size / 20, "\(second)")
    }

    /// `--max-download` holds bytes from the origin to the rate as it does bytes from peers: 3 MiB
    /// at 1 MiB/s cannot arrive in less than the 2 s its limiter spaces the requests by.
    @Test(.needsNetworkHosts) func maxDownloadLimitsWhatTheOriginSends() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let site = scratch.child("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        try PublishFetchTests.makeFile(site + "/file.bin", size: 3 * 1024 * 1024, seed: 15)
        let origin = try NodeProcess(
            dataDirectory: scratch.child("origin"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000"])
        defer { origin.stop() }
        let url = "http://[\(hosts.hosts[0].address)%\(hosts.secondInterface)]:8000/file.bin"
        let started = ContinuousClock.now
        let result = try hosts.peerdist(in: hosts.second, ["fetch", url, "--data-dir", scratch.child("client"), "-o", scratch.child("client.bin"), "--max-download", "1MiB"])
        let elapsed = ContinuousClock.now - started
        #expect(result.status == 0, "\(result.standardError)")
        #expect(FileComparison.identical(site + "/file.bin", scratch.child("client.bin")))
        #expect(elapsed >= .seconds(2), "3 MiB came from the origin in \(elapsed) at --max-download 1MiB")
    }

    /// A peer that serves a corrupted block is banned, and the fetch completes from the origin.
    @Test(.needsNetworkHosts) func aLyingPeerIsBannedAndTheOriginFillsIn() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let site = scratch.child("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let size = 2 * 1024 * 1024 + 7
        try PublishFetchTests.makeFile(site + "/file.bin", size: size, seed: 13)
        let origin = try NodeProcess(
            dataDirectory: scratch.child("origin"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000"])
        defer { origin.stop() }
        let liar = try NodeProcess(
            dataDirectory: scratch.child("liar"), listen: "[::]:0", namespace: hosts.hosts[1].namespace, program: [Peerdist.liar.path])
        defer { liar.stop() }
        _ = try PublishFetchTests.publish(site + "/file.bin", on: liar)

        let result = try fetch(on: 2, of: hosts, dataDirectory: scratch.child("client"), output: scratch.child("client.bin"))
        #expect(FileComparison.identical(site + "/file.bin", scratch.child("client.bin")))
        #expect(result.rejected >= 1, "the liar was tried: \(result)")
        #expect(result.fromOrigin > 0 && result.fromPeers < size, "\(result)")
    }

    /// With the origin stopped once the second client has its Content Information, the blocks
    /// come from the first client, which holds them all: the origin is only the last resort.
    @Test(.needsNetworkHosts) func aFetchCompletesFromPeersAfterTheOriginStops() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let site = scratch.child("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let size = 6 * 1024 * 1024 + 3
        try PublishFetchTests.makeFile(site + "/file.bin", size: size, seed: 14)
        let origin = try NodeProcess(
            dataDirectory: scratch.child("origin"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000"])
        defer { origin.stop() }
        let first = try fetch(on: 1, of: hosts, dataDirectory: scratch.child("first"), output: scratch.child("first.bin"))
        #expect(first.fromOrigin >= size, "\(first)")
        let server = try NodeProcess(dataDirectory: scratch.child("first"), listen: "[::]:0", namespace: hosts.hosts[1].namespace)
        defer { server.stop() }

        // The second fetch, slowed so that the origin is gone long before it ends, runs on a node
        // of its own; its first progress event comes once it holds the Content Information.
        let client = try NodeProcess(dataDirectory: scratch.child("second"), listen: "[::]:0", namespace: hosts.hosts[2].namespace)
        defer { client.stop() }
        let url = "http://[\(hosts.hosts[0].address)%\(hosts.hosts[2].interface)]:8000/file.bin"
        let events = scratch.child("second.events")
        let fetch = Process()
        fetch.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fetch.arguments = ["ip", "netns", "exec", hosts.hosts[2].namespace, Peerdist.binary.path, "fetch", url, "--data-dir", scratch.child("second"),
                           "-o", scratch.child("second.bin"), "--json", "--max-download", "2MiB"]
        try fetch.run(output: events, error: scratch.child("second.err"))
        defer { if fetch.isRunning { fetch.terminate() } }
        let deadline = Date().addingTimeInterval(20)
        while fetch.isRunning, Date() < deadline, !((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").contains("\"progress\"") {
            Thread.sleep(forTimeInterval: 0.02)
        }
        origin.stop()
        #expect(fetch.isRunning, "the fetch was still going when the origin stopped")
        fetch.waitUntilExit()
        let output = (try? String(contentsOfFile: events, encoding: .utf8)) ?? ""
        #expect(fetch.terminationStatus == 0, "\((try? String(contentsOfFile: scratch.child("second.err"), encoding: .utf8)) ?? "")\n\(client.log)")
        #expect(FileComparison.identical(site + "/file.bin", scratch.child("second.bin")))
        let done = try #require(Self.lastEvent(of: output), "\(output)")
        #expect((done["from_peers"] as? Int ?? 0) >= size && (done["from_origin"] as? Int ?? -1) == 0, "\(done)")
    }

    /// The last JSON line `fetch --json` printed: its `done` event.
    static func lastEvent(of output: String) -> [String: Any]? {
        guard let line = output.split(separator: "\n").last(where: { !$0.isEmpty }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    private struct Sources: CustomStringConvertible {
        var fromPeers: Int
        var fromOrigin: Int
        var rejected: Int
        var description: String { "\(fromPeers) bytes from peers, \(fromOrigin) from the origin, \(rejected) blocks rejected" }
    }

    /// `fetch http://[fe80::1%IF]:8000/file.bin --json` on host `index`; where its bytes came from.
    private func fetch(on index: Int, of hosts: NetworkHosts, dataDirectory: String, output: String) throws -> Sources {
        let url = "http://[\(hosts.hosts[0].address)%\(hosts.hosts[index].interface)]:8000/file.bin"
        let result = try hosts.peerdist(in: hosts.hosts[index].namespace, ["fetch", url, "--data-dir", dataDirectory, "-o", output, "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let done = try #require(Self.lastEvent(of: result.standardOutput), "\(result.standardOutput)")
        return Sources(fromPeers: done["from_peers"] as? Int ?? -1, fromOrigin: done["from_origin"] as? Int ?? -1, rejected: done["rejected_blocks"] as? Int ?? -1)
    }
}

/// `serve --hosted-cache-port` and `--hosted-cache-server`: a client that fetched from an origin
/// offers its segments to the branch's hosted cache (MS-PCHC), which pulls them over MS-PCCRR;
/// a second client with multicast off then fetches from the hosted cache, not the origin.
@Suite(.serialized) struct HostedCacheTests {
    @Test(.needsNetworkHosts) func aHostedCachePullsOfferedSegmentsAndServesThem() throws {
        let hosts = try NetworkHosts(count: 4)
        let scratch = try ScratchDirectory()
        let site = scratch.child("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let size = 3 * 1024 * 1024 + 11
        try PublishFetchTests.makeFile(site + "/file.bin", size: size, seed: 21)
        let origin = try NodeProcess(
            dataDirectory: scratch.child("origin"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000"])
        defer { origin.stop() }
        let cache = try NodeProcess(
            dataDirectory: scratch.child("cache"), listen: "[::]:0", namespace: hosts.hosts[1].namespace, extraArguments: ["--hosted-cache-port", "8090"])
        defer { cache.stop() }

        func url(from index: Int) -> String { "http://[\(hosts.hosts[0].address)%\(hosts.hosts[index].interface)]:8000/file.bin" }
        let first = try hosts.peerdist(in: hosts.hosts[2].namespace, ["fetch", url(from: 2), "--data-dir", scratch.child("first"), "-o", scratch.child("first.bin")])
        #expect(first.status == 0, "\(first.standardError)")
        let offering = try NodeProcess(
            dataDirectory: scratch.child("first"), listen: "[::]:0", namespace: hosts.hosts[2].namespace,
            extraArguments: ["--branchcache-port", "8080", "--hosted-cache-server", "[\(hosts.hosts[1].address)%\(hosts.hosts[2].interface)]:8090"])
        // 49 blocks of one segment: wait until the cache holds them all.
        let held = { () -> Int in
            let folder = scratch.child("cache") + "/hosted-cache"
            let segments = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return segments.reduce(0) { count, segment in
                count + ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(segment)")) ?? []).filter { Int($0) != nil }.count
            }
        }
        let deadline = Date().addingTimeInterval(30)
        while held() < 49, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(held() == 49, "the hosted cache pulled \(held()) blocks: \(cache.log)\n\(offering.log)")
        offering.stop()

        // Multicast off: only the hosted cache, named, can help.
        try NetworkHosts.ip("-n", hosts.hosts[3].namespace, "link", "set", hosts.hosts[3].interface, "multicast", "off")
        let second = try hosts.peerdist(in: hosts.hosts[3].namespace, [
            "fetch", url(from: 3), "--data-dir", scratch.child("second"), "-o", scratch.child("second.bin"), "--json",
            "--hosted-cache", "[\(hosts.hosts[1].address)%\(hosts.hosts[3].interface)]:8090",
        ])
        #expect(second.status == 0, "\(second.standardError)")
        #expect(FileComparison.identical(site + "/file.bin", scratch.child("second.bin")))
        let done = try #require(BranchCacheOriginTests.lastEvent(of: second.standardOutput))
        #expect((done["from_peers"] as? Int ?? 0) >= size && (done["from_origin"] as? Int ?? -1) == 0, "\(done)")
    }

    /// MS-PCHC 2.0: a node holding version 2 content offers its segments by ID in a
    /// BATCHED_OFFER; the hosted cache pulls each as the offering node's MS-PCCRR server encrypts
    /// it and keeps it sealed. With the offering node gone, the client written from the
    /// specification fetches every segment from the hosted cache, decrypts and verifies it, and
    /// its GETSEGLIST finds them all held.
    @Test(.needsNetworkHosts) func aHostedCacheTakesBatchedOffersOfVersion2Content() throws {
        let hosts = try NetworkHosts(count: 3)
        let scratch = try ScratchDirectory()
        let file = scratch.child("file.bin")
        let size = 400_000
        try PublishFetchTests.makeFile(file, size: size, seed: 29)
        let information = file + ".ci"
        #expect(try Peerdist.run("hash", file, "--content-version", "2", "-o", information).status == 0)
        let described = try Peerdist.run("info", information, "--json")
        let segmentCount = try #require((try JSONSerialization.jsonObject(with: described.output) as? [String: Any])?["segment_count"] as? Int)

        let cache = try NodeProcess(
            dataDirectory: scratch.child("cache"), listen: "[::]:0", namespace: hosts.hosts[0].namespace, extraArguments: ["--hosted-cache-port", "8090"])
        defer { cache.stop() }
        let offering = try NodeProcess(
            dataDirectory: scratch.child("offering"), listen: "[::]:0", namespace: hosts.hosts[1].namespace,
            extraArguments: ["--branchcache-port", "8080", "--hosted-cache-server", "[\(hosts.hosts[0].address)%\(hosts.hosts[1].interface)]:8090"])
        defer { offering.stop() }
        let published = try Peerdist.run("publish", file, "--content-version", "2", "--data-dir", offering.dataDirectory)
        #expect(published.status == 0, "\(published.standardError)")

        // Offers go out every 30 s: wait for the next round and the pulls after it.
        let sealed = { () -> Int in
            let folder = scratch.child("cache") + "/hosted-cache"
            let segments = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return segments.filter { FileManager.default.fileExists(atPath: "\(folder)/\($0)/sealed") }.count
        }
        let deadline = Date().addingTimeInterval(120)
        while sealed() < segmentCount, Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        #expect(sealed() == segmentCount, "the hosted cache sealed \(sealed()) of \(segmentCount) segments: \(cache.log)\n\(offering.log)")
        offering.stop()

        let output = scratch.child("fetched.bin")
        let result = try Peerdist.runTool(
            [BranchCacheRetrievalTests.python, BranchCacheRetrievalTests.client, "fetch", information, output,
             "--peer", "[\(hosts.hosts[0].address)%\(hosts.hosts[2].interface)]:8090", "--algorithm", "1"],
            namespace: hosts.hosts[2].namespace)
        #expect(result.status == 0, "\(result.standardError)\n\(cache.log)")
        #expect(result.standardOutput.contains("\"bytes\": \(size)"), "\(result.standardOutput)")
        #expect(result.standardOutput.contains("\"seglist\": [[0, \(segmentCount)]]"), "\(result.standardOutput)")
        #expect(FileComparison.identical(file, output), "the bytes from the hosted cache are the file's")
    }
}
