import Foundation
import PeerDistTestHosts
import Testing

/// Real iPXE as the BranchCache client: booted in QEMU on the hosts' link, it fetches a file
/// from a `serve --http-origin` origin with `imgfetch`. A node on another host, which fetched the
/// file from the origin before, serves its blocks with `--branchcache-port`. An iPXE built with
/// PeerDist (HTTP_ENC_PEERDIST) asks the origin for Content Information, finds the node by an
/// MS-PCCRD probe, pulls the blocks from it with MSG_GETBLKS and checks each against the Content
/// Information before it keeps it; Debian's iPXE, built without PeerDist, takes the bytes from
/// the origin. Runs for Debian's iPXE, and for the image `PEERDIST_IPXE_LKRN` names.
@Suite(.serialized, .enabled(if: IPXEMachine.canRun, "needs QEMU and iPXE (qemu-system-x86, ipxe: scripts/install-dependencies)"))
struct BranchCacheIPXETests {
    @Test(.needsNetworkHosts, arguments: IPXEMachine.Image.available)
    func iPXEFetchesFromAnOriginAndPullsBlocksFromANode(image: IPXEMachine.Image) throws {
        // iPXE finds peers over IPv4 and IPv6 both; the node's answers name its IPv4 address.
        let hosts = try NetworkHosts(count: 2, ipv4: true)
        let scratch = try ScratchDirectory()
        let site = scratch.child("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let size = 4 * 1024 * 1024 + 5
        try PublishFetchTests.makeFile(site + "/file.bin", size: size, seed: 53)
        let origin = try NodeProcess(
            dataDirectory: scratch.child("origin"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--http-origin", site, "--http-listen", "[::]:8000"])
        defer { origin.stop() }
        let originAddress = try #require(hosts.hosts[0].ipv4Address)
        let url = "http://\(originAddress):8000/file.bin"

        // The node takes the file from the origin as any client would, then serves its blocks.
        let fetched = try hosts.peerdist(in: hosts.second, ["fetch", url, "--data-dir", scratch.child("node"), "-o", scratch.child("node.bin")])
        #expect(fetched.status == 0, "\(fetched.standardError)")
        #expect(FileComparison.identical(site + "/file.bin", scratch.child("node.bin")))
        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.second, extraArguments: ["--branchcache-port", "8080", "--metrics", "0"])
        defer { node.stop() }

        let tap = try hosts.addTap()
        let machine = try IPXEMachine(
            image: image,
            script: [
                "set net0/ip 10.77.0.200", "set net0/netmask 255.255.255.0", "ifopen net0",
                "imgfetch \(url) && echo IPXE-FETCHED || echo IPXE-FETCH-FAILED", "imgstat",
            ],
            namespace: tap.namespace, tap: tap.interface, scratch: scratch.path)
        defer { machine.stop() }
        let console = machine.waitUntilDone(seconds: 60)

        // iPXE says "ok" only once every byte is in; with PeerDist, every block it kept matched
        // its hash in the Content Information.
        #expect(console.contains("IPXE-FETCHED"), "\(console)\n\(node.log)")
        #expect(console.contains("file.bin : \(size) bytes"), "\(console)")
        let metrics = try OperationsTests.scrape(node, in: hosts.second)
        let blockRequests = OperationsTests.sample("peerdist_branchcache_messages_total{type=\"MSG_GETBLKS\"}", in: metrics) ?? 0
        let servedBytes = OperationsTests.sample("peerdist_branchcache_response_bytes_total", in: metrics) ?? 0
        if image.speaksPeerDist {
            // One MSG_GETBLKS per 64 KiB block: 65 blocks. Those not pulled in time iPXE takes
            // from the origin by Range; under load a few may be, not most.
            #expect(blockRequests >= 33, "\(metrics)\n\(console)")
            #expect(servedBytes >= Double(size / 2), "\(metrics)")
            #expect((OperationsTests.sample("peerdist_branchcache_probes_answered_total", in: metrics) ?? 0) >= 1, "\(metrics)")
        } else {
            #expect(blockRequests == 0, "iPXE without PeerDist asks no peer: \(metrics)")
        }
    }
}
