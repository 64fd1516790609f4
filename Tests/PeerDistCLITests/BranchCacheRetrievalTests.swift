import Foundation
import PeerDistTestHosts
import Testing

/// `serve --branchcache-port`: a BranchCache client written from the specifications alone
/// (`Tests/Reference/pccrr_client.py`, Python with the `cryptography` package) finds the node by
/// an MS-PCCRD probe from another host on the link, fetches every block over MS-PCCRR (HTTP),
/// decrypts it (AES-CBC, PKCS#7 checked) and verifies it against the Content Information, then
/// asks in version 2.0 which segments the node holds (MSG_GETSEGLIST).
@Suite(.serialized) struct BranchCacheRetrievalTests {
    static let client = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/pccrr_client.py").path
    /// Debian's interpreter, which has python3-cryptography (scripts/install-dependencies); the
    /// `python3` first on the PATH may be another build without it.
    static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    @Test(.needsNetworkHosts) func aSpecificationClientFindsTheNodeAndFetchesVerifiedBlocks() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--branchcache-port", "8080"])
        defer { node.stop() }
        #expect(node.log.contains("serving BranchCache (MS-PCCRR) on [::]:8080"), "\(node.log)")

        // Version 1 content over three blocks and a short one; version 2 content in several segments.
        for (version, size, algorithm) in [("1", 200_000, "1"), ("2", 400_000, "3"), ("1", 70_000, "0")] {
            let file = scratch.child("original-v\(version)-\(size)")
            try PublishFetchTests.makeFile(file, size: size, seed: UInt64(size))
            let published = try Peerdist.run("publish", file, "--content-version", version, "--data-dir", node.dataDirectory)
            #expect(published.status == 0, "\(published.standardError)")
            // The Content Information every holder of this content derives, as an origin would hand it out.
            let information = file + ".ci"
            #expect(try Peerdist.run("hash", file, "--content-version", version, "-o", information).status == 0)

            let output = scratch.child("fetched-v\(version)-\(size)")
            let result = try Peerdist.runTool(
                [Self.python, Self.client, "fetch", information, output, "--interface", hosts.secondInterface, "--algorithm", algorithm],
                namespace: hosts.second)
            #expect(result.status == 0, "\(result.standardError)\n\(node.log)")
            #expect(result.standardOutput.contains("\"bytes\": \(size)"), "\(result.standardOutput)")
            // The client's GETSEGLIST named every segment and a made-up one: only the segments come back.
            #expect(result.standardOutput.contains("\"seglist\": [[0, "), "\(result.standardOutput)")
            #expect(FileComparison.identical(file, output), "the client's bytes are the file's")
        }
    }

    @Test(.needsNetworkHosts) func malformedRequestsGetHTTPErrorsAndTheNodeServesOn() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--branchcache-port", "8080"])
        defer { node.stop() }
        let file = scratch.child("original")
        try PublishFetchTests.makeFile(file, size: 100_000, seed: 5)
        _ = try PublishFetchTests.publish(file, on: node)
        #expect(try Peerdist.run("hash", file, "-o", file + ".ci").status == 0)
        let peer = "[\(hosts.hosts[0].address)%\(hosts.secondInterface)]:8080"

        let script = """
            import http.client, sys
            host = sys.argv[1].rsplit(":", 1)[0].strip("[]")
            path = "/116B50EB-ECE2-41ac-8429-9F9E963361B7/"
            statuses = []
            for method, uri, body in [("GET", path, None), ("POST", "/other/", b"x" * 16), ("POST", path, b"\\0" * 16),
                                      ("POST", path, b"\\0\\0\\0\\1\\0\\0\\0\\3\\0\\0\\1\\0\\0\\0\\0\\1" + b"\\xff" * 240)]:
                connection = http.client.HTTPConnection(host, 8080, timeout=5)
                connection.request(method, uri, body=body)
                statuses.append(connection.getresponse().status)
                connection.close()
            # Past the 98 304-byte cap: 413, or the connection closed while the body was still going.
            connection = http.client.HTTPConnection(host, 8080, timeout=5)
            try:
                connection.request("POST", path, body=b"\\0" * 100000)
                statuses.append(connection.getresponse().status)
            except (BrokenPipeError, ConnectionResetError):
                statuses.append(413)
            print(" ".join(map(str, statuses)))
            """
        let result = try Peerdist.runTool([Self.python, "-c", script, peer], namespace: hosts.second)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "405 404 400 400 413")
        // And serves a well-formed client afterwards.
        let fetched = try Peerdist.runTool(
            [Self.python, Self.client, "fetch", file + ".ci", scratch.child("fetched"), "--peer", peer], namespace: hosts.second)
        #expect(fetched.status == 0, "\(fetched.standardError)")
        #expect(FileComparison.identical(file, scratch.child("fetched")))
    }

    /// The other direction: a fetch by ID probes MS-PCCRD for the content's segments too, and
    /// draws blocks over MS-PCCRR from the holder that answers, beside its PeerDist transport
    /// (slowed down, so the probe is answered before the PeerDist transport alone is done).
    @Test(.needsNetworkHosts) func aFetchDrawsOnBranchCachePeersFoundByProbing() throws {
        let hosts = try NetworkHosts(count: 2)
        let (scratch, file, seeder, uri) = try PublishFetchTests.published(
            size: 4 * 1024 * 1024 + 3, seed: 17, listen: "[::]:0", namespace: hosts.first, extraArguments: ["--branchcache-port", "8080", "--metrics", "0"])
        defer { seeder.stop() }
        let output = scratch.child("fetched")
        let fetch = try hosts.peerdist(in: hosts.second, ["fetch", uri, "--data-dir", scratch.child("leecher"), "-o", output, "--peers", "--max-download", "4MiB"])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
        let branchCacheLine = fetch.standardOutput.split(separator: "\n").first { $0.contains("]:8080 ") }
        #expect(branchCacheLine != nil, "the MS-PCCRR server sent blocks: \(fetch.standardOutput)")
        // The seeder's metrics count the probe it answered and the MS-PCCRR requests it served.
        let metrics = try OperationsTests.scrape(seeder, in: hosts.first)
        #expect((OperationsTests.sample("peerdist_branchcache_probes_received_total", in: metrics) ?? 0) >= 1, "\(metrics)")
        #expect((OperationsTests.sample("peerdist_branchcache_probes_answered_total", in: metrics) ?? 0) >= 1)
        #expect((OperationsTests.sample("peerdist_branchcache_requests_total", in: metrics) ?? 0) >= 1)
        #expect((OperationsTests.sample("peerdist_branchcache_response_bytes_total", in: metrics) ?? 0) > 0)
    }

    /// Version 2 content has one block per segment: the fetch asks a BranchCache peer which
    /// segments it holds with MSG_GETSEGLIST (counted by the peer's metrics), not one
    /// MSG_GETBLKLIST per segment, and draws blocks from it.
    @Test(.needsNetworkHosts) func aVersion2FetchAsksBranchCachePeersForSegmentLists() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let file = scratch.child("original")
        try PublishFetchTests.makeFile(file, size: 8 * 1024 * 1024 + 5, seed: 41)
        let seeder = try NodeProcess(
            dataDirectory: scratch.child("seeder"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--branchcache-port", "8080", "--metrics", "0"])
        defer { seeder.stop() }
        let published = try Peerdist.run("publish", file, "--content-version", "2", "--data-dir", seeder.dataDirectory, "--json")
        let uri = try #require((try JSONSerialization.jsonObject(with: published.output) as? [String: String])?["uri"], "\(published.standardError)")
        let output = scratch.child("fetched")
        let fetch = try hosts.peerdist(in: hosts.second, ["fetch", uri, "--data-dir", scratch.child("leecher"), "-o", output, "--peers", "--max-download", "4MiB", "--verbose"])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileComparison.identical(file, output))
        #expect(fetch.standardOutput.split(separator: "\n").contains { $0.contains("]:8080 ") }, "the MS-PCCRR server sent blocks: \(fetch.standardOutput)\n\(fetch.standardError)")
        let metrics = try OperationsTests.scrape(seeder, in: hosts.first)
        let lists = OperationsTests.sample("peerdist_branchcache_messages_total{type=\"MSG_GETSEGLIST\"}", in: metrics) ?? 0
        #expect(lists >= 1, "\(metrics)")
        #expect((OperationsTests.sample("peerdist_branchcache_messages_total{type=\"MSG_GETBLKLIST\"}", in: metrics) ?? 0) == 0, "\(metrics)")
    }
}
