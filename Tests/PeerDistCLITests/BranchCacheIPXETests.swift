import Foundation
import PeerDistTestHosts
import Testing

/// Real iPXE as the BranchCache client: booted in QEMU on the hosts' link, it fetches a file
/// from an origin with `imgfetch`, while a node on another host holds the file's blocks and
/// serves them with `--branchcache-port`. An iPXE built with PeerDist (HTTP_ENC_PEERDIST) asks
/// the origin for Content Information, finds the node by an MS-PCCRD probe, pulls the blocks from
/// it with MSG_GETBLKS (or from the hosted cache its `peerhost` setting names) and checks each
/// against the Content Information before it keeps it; Debian's iPXE, built without PeerDist,
/// takes the bytes from the origin.
///
/// Debian's iPXE runs the first scenario; the image `PEERDIST_IPXE_LKRN` names (an iPXE with
/// PeerDist, which `scripts/ipxe-peerdist` builds and tests) runs them all.
@Suite(.serialized, .enabled(if: IPXEMachine.canRun, "needs QEMU and iPXE (qemu-system-x86, ipxe: scripts/install-dependencies)"))
struct BranchCacheIPXETests {
    enum Scenario: String, Sendable {
        /// `serve --http-origin` hands out version 1 Content Information; the node fetched the
        /// file from it with `fetch http://…` and answers over IPv4.
        case version1FromAnOrigin = "version 1 from a PeerDist origin"
        /// The same, the node's host without IPv4: it answers iPXE's `ff02::c` probe, naming
        /// its link-local address without a zone.
        case nodeWithoutIPv4 = "version 1, the node on IPv6 alone"
        /// Version 2 Content Information from a plain web server (iPXE allows 1.0 to 2.0, and
        /// PeerDist's origin answers 1.0 then); the node published the file as version 2.
        case version2 = "version 2 Content Information"
        /// No node on the link: iPXE's `peerhost` setting names the branch's hosted cache
        /// (`serve --hosted-cache-port`), to which the node that fetched the file offered it.
        /// iPXE has the setting since December 2019 (not Debian 12's source, from January).
        case hostedCache = "version 1 from a hosted cache"
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let image: IPXEMachine.Image
        let scenario: Scenario
        var testDescription: String { "\(image.name): \(scenario.rawValue)" }

        static var all: [Case] {
            IPXEMachine.Image.available.flatMap { image in
                (image.speaksPeerDist ? [.version1FromAnOrigin, .nodeWithoutIPv4, .version2, .hostedCache] : [Scenario.version1FromAnOrigin])
                    .map { Case(image: image, scenario: $0) }
            }
        }
    }

    /// A web server for a directory, enough for iPXE's PeerDist: the file's Content Information
    /// (`FILE.ci` beside it) to `Accept-Encoding: peerdist`, one `Range` as 206, else the bytes.
    /// Started like a node (it prints "listening on" and takes `--site DIR`).
    static let contentInformationServer = """
        import http.server, os, sys
        site = sys.argv[sys.argv.index("--site") + 1]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                path = os.path.join(site, os.path.basename(self.path))
                data = open(path, "rb").read()
                status, headers = 200, {}
                if self.headers.get("Range"):
                    first, last = self.headers["Range"].split("=", 1)[1].split("-")
                    last = int(last) if last else len(data) - 1
                    status, headers["Content-Range"] = 206, "bytes %s-%d/%d" % (first, last, len(data))
                    body = data[int(first):last + 1]
                elif "peerdist" in self.headers.get("Accept-Encoding", ""):
                    body = open(path + ".ci", "rb").read()
                    headers = {"Content-Encoding": "peerdist", "X-P2P-PeerDist": "Version=1.1, ContentLength=%d" % len(data)}
                else:
                    body = data
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        server = http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler)
        print("listening on 0.0.0.0:8000", flush=True)
        server.serve_forever()
        """

    @Test(.needsNetworkHosts, arguments: Case.all)
    func iPXEFetchesFromAnOriginAndPullsBlocksFromANode(_ test: Case) async throws {
        // iPXE finds peers over IPv4 and IPv6 both; a node with IPv4 names that address.
        let hosts = try NetworkHosts(count: 2, ipv4: true)
        let scratch = try ScratchDirectory()
        let file = scratch.child("site") + "/file.bin"
        let size = 4 * 1024 * 1024 + 5
        try FileManager.default.createDirectory(atPath: scratch.child("site"), withIntermediateDirectories: true)
        try PublishFetchTests.makeFile(file, size: size, seed: 53)
        let originAddress = try #require(hosts.hosts[0].ipv4Address)
        let url = "http://\(originAddress):8000/file.bin"
        let scene = try await Self.prepare(test.scenario, hosts: hosts, scratch: scratch, file: file, url: url)
        defer { scene.origin.stop() }
        defer { scene.server.stop() }

        let tap = try hosts.addTap()
        let machine = try IPXEMachine(
            image: test.image,
            script: scene.settings + [
                "set net0/ip 10.77.0.200", "set net0/netmask 255.255.255.0", "ifopen net0",
                "imgfetch \(url) && echo IPXE-FETCHED || echo IPXE-FETCH-FAILED", "imgstat",
            ],
            namespace: tap.namespace, tap: tap.interface, scratch: scratch.path)
        defer { machine.stop() }
        let console = try await machine.waitUntilDone(seconds: 60)

        // iPXE says "ok" only once every byte is in; with PeerDist, every block it kept matched
        // its hash in the Content Information.
        #expect(console.contains("IPXE-FETCHED"), "\(console)\n\(scene.server.log)")
        #expect(console.contains("file.bin : \(size) bytes"), "\(console)")
        let metrics = try OperationsTests.scrape(scene.server, in: scene.serverNamespace)
        let blockRequests = OperationsTests.sample("peerdist_branchcache_messages_total{type=\"MSG_GETBLKS\"}", in: metrics) ?? 0
        let servedBytes = OperationsTests.sample("peerdist_branchcache_response_bytes_total", in: metrics) ?? 0
        let answered = OperationsTests.sample("peerdist_branchcache_probes_answered_total", in: metrics) ?? 0
        guard test.image.speaksPeerDist else {
            #expect(blockRequests == 0, "iPXE without PeerDist asks no peer: \(metrics)")
            return
        }
        // One MSG_GETBLKS per block. Those not pulled in time iPXE takes from the origin by
        // Range; under load a few may be, not most.
        #expect(blockRequests >= Double(scene.blocks / 2), "of \(scene.blocks) blocks: \(metrics)\n\(console)")
        #expect(servedBytes >= Double(size / 2), "\(metrics)")
        switch test.scenario {
        case .version1FromAnOrigin:
            // iPXE probes 239.255.255.250 and ff02::c alike, and the node answers, and counts, both.
            #expect(answered >= 2, "\(metrics)")
        case .nodeWithoutIPv4, .version2:
            #expect(answered >= 1, "\(metrics)")
        case .hostedCache:
            break
        }
    }

    /// What a scenario runs before iPXE boots.
    struct Scene {
        let origin: NodeProcess
        /// What serves iPXE the blocks (the node, or the hosted cache), with `--metrics`.
        let server: NodeProcess
        let serverNamespace: String
        let blocks: Int
        /// iPXE settings the script starts with.
        var settings: [String] = []
    }

    /// Starts the origin (on the first host, port 8000) and the server of the blocks for
    /// `scenario`, the file under `scratch/site`.
    static func prepare(_ scenario: Scenario, hosts: NetworkHosts, scratch: ScratchDirectory, file: String, url: String) async throws -> Scene {
        let site = scratch.child("site")
        let serverArguments = ["--branchcache-port", "8080", "--metrics", "0"]
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        if scenario == .version2 {
            #expect(try Peerdist.run("hash", file, "--content-version", "2", "-o", file + ".ci").status == 0)
            let described = try Peerdist.run("info", file + ".ci", "--json")
            let segments = try #require((try JSONSerialization.jsonObject(with: described.output) as? [String: Any])?["segment_count"] as? Int)
            let origin = try NodeProcess(
                dataDirectory: scratch.child("origin"), listen: "0.0.0.0:8000", namespace: hosts.first, extraArguments: ["--site", site],
                program: [BranchCacheRetrievalTests.python, "-c", contentInformationServer])
            let node = try NodeProcess(dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.second, extraArguments: serverArguments)
            let published = try Peerdist.run("publish", file, "--content-version", "2", "--data-dir", node.dataDirectory)
            #expect(published.status == 0, "\(published.standardError)")
            return Scene(origin: origin, server: node, serverNamespace: hosts.second, blocks: segments)
        }

        let origin = try NodeProcess(
            dataDirectory: scratch.child("origin"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000"])
        // The node takes the file from the origin as any client would, then serves its blocks.
        let fetched = try hosts.peerdist(in: hosts.second, ["fetch", url, "--data-dir", scratch.child("node"), "-o", scratch.child("node.bin")])
        #expect(fetched.status == 0, "\(fetched.standardError)")
        #expect(FileComparison.identical(file, scratch.child("node.bin")))
        let blocks = (size + 65535) / 65536
        switch scenario {
        case .hostedCache:
            let cache = try NodeProcess(
                dataDirectory: scratch.child("cache"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--hosted-cache-port", "8090", "--metrics", "0"])
            let cacheAddress = try #require(hosts.hosts[0].ipv4Address)
            let offering = try NodeProcess(
                dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.second,
                extraArguments: ["--branchcache-port", "8080", "--hosted-cache-server", "\(cacheAddress):8090"])
            // One segment: wait until the cache holds its every block, then the node leaves.
            let folder = scratch.child("cache") + "/hosted-cache"
            let held = { () -> Int in
                let segments = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                return segments.reduce(0) { count, segment in
                    count + ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(segment)")) ?? []).filter { Int($0) != nil }.count
                }
            }
            let deadline = Date().addingTimeInterval(30)
            while held() < blocks, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(held() == blocks, "the hosted cache pulled \(held()) blocks: \(cache.log)\n\(offering.log)")
            offering.stop()
            return Scene(origin: origin, server: cache, serverNamespace: hosts.first, blocks: blocks, settings: ["set peerhost \(cacheAddress):8090"])
        case .nodeWithoutIPv4:
            try NetworkHosts.ip("-n", hosts.second, "-4", "addr", "flush", "dev", hosts.secondInterface)
            fallthrough
        default:
            let node = try NodeProcess(dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.second, extraArguments: serverArguments)
            return Scene(origin: origin, server: node, serverNamespace: hosts.second, blocks: blocks)
        }
    }
}
