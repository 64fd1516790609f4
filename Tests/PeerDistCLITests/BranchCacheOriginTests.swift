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
}
