import Foundation
import PeerDistTestHosts
import Testing

/// `serve --answer-branchcache-probes`: a BranchCache client on the link probes `[ff02::c]:3702`
/// for a segment ID, as Windows and iPXE do, and the node that holds the segment answers.
@Suite(.serialized) struct BranchCacheDiscoveryTests {
    @Test(.needsNetworkHosts) func aNodeAnswersProbesForSegmentsItHoldsWhenAsked() throws {
        let hosts = try NetworkHosts(count: 2)
        let scratch = try ScratchDirectory()
        let file = scratch.child("original")
        try PublishFetchTests.makeFile(file, size: 200_000, seed: 91)
        // The segment ID every holder of this content derives.
        #expect(try Peerdist.run("hash", file, "-o", scratch.child("original.ci")).status == 0)
        let info = try Peerdist.run("info", scratch.child("original.ci"), "--json")
        let segments = (try JSONSerialization.jsonObject(with: info.output) as? [String: Any])?["segments"] as? [[String: Any]]
        let segmentID = try #require(segments?.first?["segment_id"] as? String).uppercased()
        let unknown = String(repeating: "AB", count: 32)

        let quiet = try NodeProcess(dataDirectory: scratch.child("quiet"), listen: "[::]:0", namespace: hosts.first)
        _ = try PublishFetchTests.publish(file, on: quiet)
        #expect(try probe(segmentID, on: hosts) == "", "a node answers BranchCache probes only when told to")
        quiet.stop()

        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--answer-branchcache-probes"])
        defer { node.stop() }
        _ = try PublishFetchTests.publish(file, on: node)
        let reply = try probe("\(unknown) \(segmentID)", on: hosts)
        #expect(reply.contains("ProbeMatch") && reply.contains(segmentID), "\(reply)")
        #expect(!reply.contains(unknown), "only held segments are named")
        #expect(reply.contains("00000004"), "the segment's 4 blocks are all held: \(reply)")
        #expect(try probe(unknown, on: hosts) == "", "nothing held, no answer")
    }

    /// Sends a version 1 Probe for `scopes` from the second host to the group on its link and
    /// returns the first reply within two seconds, or "" when none comes.
    private func probe(_ scopes: String, on hosts: NetworkHosts) throws -> String {
        let probe = """
            <?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" \
            xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
            xmlns:PeerDist="http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery"><soap:Header>\
            <wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>\
            <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>\
            <wsa:MessageID>urn:uuid:\(UUID().uuidString.lowercased())</wsa:MessageID></soap:Header><soap:Body><wsd:Probe>\
            <wsd:Types>PeerDist:PeerDistData</wsd:Types>\
            <wsd:Scopes MatchBy="http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0">\(scopes)</wsd:Scopes>\
            </wsd:Probe></soap:Body></soap:Envelope>
            """
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(sys.argv[1].encode(), ("ff02::c", 3702, 0, socket.if_nametoindex(sys.argv[2])))
            try:
                sys.stdout.write(s.recvfrom(65536)[0].decode())
            except socket.timeout:
                pass
            """
        let result = try Peerdist.runTool(["python3", "-c", script, probe, hosts.secondInterface], namespace: hosts.second)
        #expect(result.status == 0, "\(result.standardError)")
        return result.standardOutput
    }

    /// Windows and iPXE probe `239.255.255.250:3702` too: over IPv4 the node answers the same,
    /// naming its IPv4 address and MS-PCCRR port.
    @Test(.needsNetworkHosts) func aNodeAnswersProbesOverIPv4() throws {
        let hosts = try NetworkHosts(count: 2, ipv4: true)
        let scratch = try ScratchDirectory()
        let file = scratch.child("original")
        try PublishFetchTests.makeFile(file, size: 100_000, seed: 92)
        #expect(try Peerdist.run("hash", file, "-o", scratch.child("original.ci")).status == 0)
        let info = try Peerdist.run("info", scratch.child("original.ci"), "--json")
        let segments = (try JSONSerialization.jsonObject(with: info.output) as? [String: Any])?["segments"] as? [[String: Any]]
        let segmentID = try #require(segments?.first?["segment_id"] as? String).uppercased()
        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:0", namespace: hosts.first, extraArguments: ["--branchcache-port", "8080"])
        defer { node.stop() }
        _ = try PublishFetchTests.publish(file, on: node)

        let probe = """
            <?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" \
            xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
            xmlns:PeerDist="http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery"><soap:Header>\
            <wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>\
            <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>\
            <wsa:MessageID>urn:uuid:\(UUID().uuidString.lowercased())</wsa:MessageID></soap:Header><soap:Body><wsd:Probe>\
            <wsd:Types>PeerDist:PeerDistData</wsd:Types>\
            <wsd:Scopes MatchBy="http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0">\(segmentID)</wsd:Scopes>\
            </wsd:Probe></soap:Body></soap:Envelope>
            """
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[2]))
            s.settimeout(3)
            s.sendto(sys.argv[1].encode(), ("239.255.255.250", 3702))
            try:
                sys.stdout.write(s.recvfrom(65536)[0].decode())
            except socket.timeout:
                pass
            """
        var reply = ""
        // The node joins the group as it starts; a probe sent before that goes unseen.
        for _ in 0..<10 where reply.isEmpty {
            let result = try Peerdist.runTool(["python3", "-c", script, probe, hosts.hosts[1].ipv4Address ?? ""], namespace: hosts.second)
            #expect(result.status == 0, "\(result.standardError)")
            reply = result.standardOutput
        }
        #expect(reply.contains(segmentID) && reply.contains("<wsd:XAddrs>\(hosts.hosts[0].ipv4Address ?? "?"):8080</wsd:XAddrs>"), "\(reply)\n\(node.log)")
    }
}
