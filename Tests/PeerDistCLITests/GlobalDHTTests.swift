import Foundation
import PeerDistDHT
import PeerDistHashing
import PeerDistTestHosts
import Testing

/// `serve --global` on a small internet: three subnets joined by a router (no multicast between
/// them), with Mainline DHT nodes PeerDist did not write (libtorrent sessions, Debian's
/// python3-libtorrent, `scripts/libtorrent-dht`). PeerDist nodes on different subnets join
/// through them alone, find each other's content, mirrors and names, and interoperate with
/// libtorrent both ways.
@Suite(.serialized) struct GlobalDHTTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let libtorrentScript = root.appendingPathComponent("scripts/libtorrent-dht").path

    @Test(.needsNetworkHosts) func contentMirrorsNamesAndItemsCrossSubnetsThroughLibtorrentNodes() throws {
        let net = try RoutedSubnets(subnets: 3, hostsPerSubnet: 3)
        defer { net.tearDown() }
        let scratch = try ScratchDirectory()
        // Libtorrent's DHT on subnets 1 and 2, IPv6 and IPv4, 8 sessions each.
        let first = net.hosts[0][0]
        let second = net.hosts[1][0]
        let libtorrentA = try LibtorrentDHT(script: Self.libtorrentScript, host: first, ports: 7001...7008, bootstrap: [], log: scratch.child("lt-a.log"))
        defer { libtorrentA.stop() }
        let libtorrentB = try LibtorrentDHT(
            script: Self.libtorrentScript, host: second, ports: 7101...7108, bootstrap: ["[\(first.ipv6Address)]:7001", "\(first.ipv4Address):7002"], log: scratch.child("lt-b.log"))
        defer { libtorrentB.stop() }
        try libtorrentA.waitForNodes()
        try libtorrentB.waitForNodes()

        // PeerDist nodes on subnets 1 and 3, joining through libtorrent's nodes only.
        let bootstrap = ["[\(first.ipv6Address)]:7003", "\(second.ipv4Address):7104"]
        let publisher = try NodeProcess(
            dataDirectory: scratch.child("publisher"), listen: "[::]:7740", namespace: net.hosts[0][1].namespace,
            extraArguments: ["--global", "--dht-bootstrap"] + bootstrap + ["--verbose"])
        defer { publisher.stop() }
        let fetcher = try NodeProcess(
            dataDirectory: scratch.child("fetcher"), listen: "[::]:7740", namespace: net.hosts[2][0].namespace,
            extraArguments: ["--global", "--dht-bootstrap"] + bootstrap)
        defer { fetcher.stop() }
        #expect(publisher.log.contains("on the Mainline DHT as"), "\(publisher.log)")
        try waitForRoutingTable(publisher)
        try waitForRoutingTable(fetcher)

        // Content: published on subnet 1, announced under the key derived from its discovery
        // key; libtorrent's get_peers finds the holder, and a fetch on subnet 3 gets it.
        let file = scratch.child("original")
        try PublishFetchTests.makeFile(file, size: 300_000, seed: 18)
        let published = try Peerdist.run("publish", file, "--data-dir", publisher.dataDirectory, "--json")
        #expect(published.status == 0, "\(published.standardError)")
        let idText = try #require(jsonObject(published.standardOutput)?["content_id"] as? String, "\(published.standardOutput)")
        let id = try #require(ContentID(parsing: idText))
        let infoHash = ContentKeys.infoHash(forDiscoveryKey: id.discoveryKey.bytes)
        // The holder announces within seconds of joining; a loaded machine may take longer.
        var holders: [String] = []
        for _ in 0..<60 where !holders.contains(where: { $0.hasSuffix(":7740") }) {
            holders = try libtorrentB.command("peers \(infoHash.hex)")["peers"] as? [String] ?? []
            if holders.isEmpty { Thread.sleep(forTimeInterval: 1) }
        }
        #expect(holders.contains("[\(net.hosts[0][1].ipv6Address)]:7740") || holders.contains("\(net.hosts[0][1].ipv4Address):7740"), "libtorrent found \(holders)")
        let output = scratch.child("fetched")
        let fetched = try Peerdist.run(["fetch", id.uri, "-o", output, "--data-dir", fetcher.dataDirectory], namespace: net.hosts[2][0].namespace)
        #expect(fetched.status == 0, "\(fetched.standardError)\n\(fetcher.log)")
        #expect(FileManager.default.contentsEqual(atPath: file, andPath: output))

        // With no node running, `fetch --global` joins the DHT for the fetch's duration.
        let alone = scratch.child("fetched-alone")
        let fetchedAlone = try Peerdist.run(
            ["fetch", id.uri, "-o", alone, "--global", "--dht-bootstrap", bootstrap[0], "--dht-bootstrap", bootstrap[1], "--data-dir", scratch.child("alone")],
            namespace: net.hosts[1][1].namespace)
        #expect(fetchedAlone.status == 0, "\(fetchedAlone.standardError)")
        #expect(FileManager.default.contentsEqual(atPath: file, andPath: alone))

        // A mirror published on subnet 1 is followed on subnet 3, and its next version reaches
        // the follower: the publisher announces each new version on the DHT.
        let tree = scratch.child("tree")
        try MirrorTests.makeTree(tree)
        let mirrorName = try MirrorTests.publish(tree, on: publisher)
        let followed = scratch.child("followed")
        try MirrorTests.follow(mirrorName, into: followed, on: fetcher)
        try MirrorTests.waitUntilFollowersMatch(tree, [followed], nodes: [publisher, fetcher], version: 1)
        try PublishFetchTests.makeFile("\(tree)/docs/new.bin", size: 200_000, seed: 42)
        _ = try MirrorTests.publish(tree, on: publisher)
        try MirrorTests.waitUntilFollowersMatch(tree, [followed], nodes: [publisher, fetcher], version: 2)

        // BEP 44 both ways: libtorrent reads PeerDist's item, PeerDist reads libtorrent's.
        let status = try #require(jsonObject(try Peerdist.run("status", "--json", "--data-dir", publisher.dataDirectory).standardOutput))
        let publisherKey = try #require(status["public_key"] as? String ?? status["publicKey"] as? String)
        let put = try Peerdist.run(["dht", "put", "hello from PeerDist", "--salt", "greeting", "--data-dir", publisher.dataDirectory], namespace: net.hosts[0][1].namespace)
        #expect(put.status == 0, "\(put.standardError)")
        let readByLibtorrent = try libtorrentB.command("get \(publisherKey) greeting")
        #expect(readByLibtorrent["value"] as? String == "hello from PeerDist", "\(readByLibtorrent)")
        let seed = String(repeating: "2a", count: 32)
        let libtorrentPut = try libtorrentA.command("put \(seed) note written by libtorrent")
        let libtorrentKey = try #require(libtorrentPut["key"] as? String)
        let readByPeerDist = try Peerdist.run(
            ["dht", "get", libtorrentKey, "--salt", "note", "--json", "--data-dir", fetcher.dataDirectory], namespace: net.hosts[2][0].namespace)
        #expect(readByPeerDist.status == 0, "\(readByPeerDist.standardError)")
        let item = jsonObject(readByPeerDist.standardOutput)?["item"] as? [String: Any]
        #expect(item?["text"] as? String == "written by libtorrent", "\(readByPeerDist.standardOutput)")

        // Names: registered on subnet 1, resolved on subnet 3 from the name alone; libtorrent
        // reads the same record.
        let registered = try Peerdist.run(
            ["names", "register", "web", "--endpoint", "[fd77:1::99]:8080", "--comment", "the web server", "--scope", "all", "--json",
             "--data-dir", publisher.dataDirectory], namespace: net.hosts[0][1].namespace)
        #expect(registered.status == 0, "\(registered.standardError)")
        let name = try #require(jsonObject(registered.standardOutput)?["name"] as? String)
        #expect(name.hasSuffix(".web") && name.count == 44)
        let resolved = try Peerdist.run(["names", "resolve", name, "--json", "--data-dir", fetcher.dataDirectory], namespace: net.hosts[2][0].namespace)
        #expect(resolved.status == 0, "\(resolved.standardError)\n\(fetcher.log)")
        let instances = (try? JSONSerialization.jsonObject(with: resolved.output)) as? [[String: Any]] ?? []
        #expect(instances.first?["endpoints"] as? [String] == ["[fd77:1::99]:8080"], "\(resolved.standardOutput)")
        #expect(instances.first?["secured"] as? Bool == true)
        #expect(instances.first?["comment"] as? String == "the web server")
        let nameByLibtorrent = try libtorrentB.command("get \(publisherKey) web")
        let nameByPeerDist = try Peerdist.run(
            ["dht", "get", publisherKey, "--salt", "web", "--json", "--data-dir", fetcher.dataDirectory], namespace: net.hosts[2][0].namespace)
        let peerDistItem = jsonObject(nameByPeerDist.standardOutput)?["item"] as? [String: Any]
        // python3-libtorrent hands out only string values; of a dictionary it gives libtorrent's
        // own rendering, after libtorrent checked the signature.
        #expect(nameByLibtorrent["seq"] as? Int == peerDistItem?["seq"] as? Int, "\(nameByLibtorrent) vs \(nameByPeerDist.standardOutput)")
        #expect((nameByLibtorrent["message"] as? String ?? "").contains("the web server"), "\(nameByLibtorrent)")
        #expect(peerDistItem?["bencoded"] as? String == Hex.encode(Array("d1:c14:the web server1:el18:".utf8)) + "fd7700010000000000000000000000991f90" + Hex.encode(Array("ee".utf8)))

        // On the link, by multicast: a node beside the publisher that is not on the DHT resolves
        // the secured name from its signed answer, and an unsecured name shown as unsecured.
        let neighbour = try NodeProcess(dataDirectory: scratch.child("neighbour"), listen: "[::]:7740", namespace: net.hosts[0][2].namespace)
        defer { neighbour.stop() }
        let printer = try Peerdist.run(
            ["names", "register", "0.printer", "--endpoint", "[fd77:1::98]:631", "--scope", "link", "--data-dir", publisher.dataDirectory],
            namespace: net.hosts[0][1].namespace)
        #expect(printer.status == 0, "\(printer.standardError)")
        let onTheLink = try Peerdist.run(
            ["names", "resolve", name, "--scope", "link", "--json", "--data-dir", neighbour.dataDirectory], namespace: net.hosts[0][2].namespace)
        #expect(onTheLink.status == 0, "\(onTheLink.standardError)")
        let linkInstances = (try? JSONSerialization.jsonObject(with: onTheLink.output)) as? [[String: Any]] ?? []
        #expect(linkInstances.first?["endpoints"] as? [String] == ["[fd77:1::99]:8080"], "\(onTheLink.standardOutput)")
        #expect(linkInstances.first?["source"] as? String == "link")
        let unsecured = try Peerdist.run(["names", "resolve", "0.printer", "--data-dir", neighbour.dataDirectory], namespace: net.hosts[0][2].namespace)
        #expect(unsecured.standardOutput.contains("0.printer (unsecured)  [fd77:1::98]:631"), "\(unsecured.standardOutput)\(unsecured.standardError)")
        // Not across the router: multicast stays on its subnet.
        let farAway = try Peerdist.run(
            ["names", "resolve", "0.printer", "--scope", "link", "--data-dir", fetcher.dataDirectory], namespace: net.hosts[2][0].namespace)
        #expect(farAway.status != 0)
        let listed = try Peerdist.run(["names", "ls", "--data-dir", publisher.dataDirectory], namespace: net.hosts[0][1].namespace)
        #expect(listed.standardOutput.contains(name) && listed.standardOutput.contains("0.printer"), "\(listed.standardOutput)")

        // An unknown secured name resolves to nothing, and says so.
        let unknown = try Peerdist.run(
            ["names", "resolve", "\(String(name.prefix(40))).nothing", "--data-dir", fetcher.dataDirectory], namespace: net.hosts[2][0].namespace)
        #expect(unknown.status != 0)
        #expect(unknown.errorLines.count == 1, "\(unknown.standardError)")
    }

    /// One name, several instances: every node that registers the unsecured `0.printer` on the
    /// link answers for it, and every node that registers `0.share` globally is announced under
    /// its locator, so a resolver gets one instance per node. A secured name registered without
    /// endpoints follows its node's addresses. Then the resolver restarts with a
    /// bootstrap address that leads nowhere: the routing table it kept in its data directory is
    /// its only way back into the DHT, and it resolves the name again through it.
    @Test(.needsNetworkHosts) func aNameHasAnInstancePerNodeAndTheRoutingTableOutlivesARestart() throws {
        let net = try RoutedSubnets(subnets: 3, hostsPerSubnet: 3)
        defer { net.tearDown() }
        let scratch = try ScratchDirectory()
        let libtorrent = try LibtorrentDHT(script: Self.libtorrentScript, host: net.hosts[0][0], ports: 7001...7008, bootstrap: [], log: scratch.child("lt.log"))
        defer { libtorrent.stop() }
        try libtorrent.waitForNodes()
        let bootstrap = ["--dht-bootstrap", "[\(net.hosts[0][0].ipv6Address)]:7001", "--dht-bootstrap", "\(net.hosts[0][0].ipv4Address):7002"]
        func node(_ name: String, _ host: RoutedSubnets.Host, global: Bool = true, bootstrap: [String] = bootstrap) throws -> NodeProcess {
            try NodeProcess(
                dataDirectory: scratch.child(name), listen: "[::]:7740", namespace: host.namespace, extraArguments: global ? ["--global"] + bootstrap : [])
        }
        let first = try node("first", net.hosts[0][1])
        defer { first.stop() }
        let second = try node("second", net.hosts[1][0])
        defer { second.stop() }
        var resolver = try node("resolver", net.hosts[2][0])
        defer { resolver.stop() }
        for each in [first, second, resolver] { try waitForRoutingTable(each) }

        // On the link: two nodes on subnet 1 answer for 0.printer, each with its own endpoint.
        let neighbour = try node("neighbour", net.hosts[0][2], global: false)
        defer { neighbour.stop() }
        for (owner, endpoint) in [(first, "[fd77:1::98]:631"), (neighbour, "[fd77:1::97]:631")] {
            let registered = try Peerdist.run(
                ["names", "register", "0.printer", "--endpoint", endpoint, "--scope", "link", "--data-dir", owner.dataDirectory])
            #expect(registered.status == 0, "\(registered.standardError)")
        }
        let onTheLink = try Peerdist.run(
            ["names", "resolve", "0.printer", "--scope", "link", "--json", "--data-dir", neighbour.dataDirectory], namespace: net.hosts[0][2].namespace)
        #expect(onTheLink.status == 0, "\(onTheLink.standardError)")
        let printers = Set(((try? JSONSerialization.jsonObject(with: onTheLink.output)) as? [[String: Any]] ?? []).flatMap { $0["endpoints"] as? [String] ?? [] })
        #expect(printers == ["[fd77:1::98]:631", "[fd77:1::97]:631"], "\(onTheLink.standardOutput)")

        // On the DHT: nodes on subnets 1 and 2 register 0.share; the resolver on subnet 3 finds both.
        for owner in [first, second] {
            let registered = try Peerdist.run(["names", "register", "0.share", "--scope", "global", "--data-dir", owner.dataDirectory])
            #expect(registered.status == 0, "\(registered.standardError)")
        }
        let owners = [net.hosts[0][1], net.hosts[1][0]]
        func resolvedShares() throws -> Set<String> {
            let resolved = try Peerdist.run(
                ["names", "resolve", "0.share", "--scope", "global", "--json", "--data-dir", resolver.dataDirectory], namespace: net.hosts[2][0].namespace)
            let endpoints = ((try? JSONSerialization.jsonObject(with: resolved.output)) as? [[String: Any]] ?? []).flatMap { $0["endpoints"] as? [String] ?? [] }
            // Each owner once, by either of its addresses.
            return Set(owners.compactMap { owner in
                endpoints.contains("[\(owner.ipv6Address)]:7740") || endpoints.contains("\(owner.ipv4Address):7740") ? owner.namespace : nil
            })
        }
        var found: Set<String> = []
        for _ in 0..<30 where found.count < 2 {
            found = try resolvedShares()
            if found.count < 2 { Thread.sleep(forTimeInterval: 1) }
        }
        #expect(found.count == 2, "0.share resolved to \(found)")

        // A registration without fixed endpoints follows the node's addresses: one added to the
        // node is in the record the resolver reads soon after.
        let registered = try Peerdist.run(["names", "register", "web", "--scope", "all", "--json", "--data-dir", first.dataDirectory])
        let web = try #require(jsonObject(registered.standardOutput)?["name"] as? String, "\(registered.standardError)")
        func webEndpoints() throws -> [String] {
            let resolved = try Peerdist.run(
                ["names", "resolve", web, "--scope", "global", "--json", "--data-dir", resolver.dataDirectory], namespace: net.hosts[2][0].namespace)
            return ((try? JSONSerialization.jsonObject(with: resolved.output)) as? [[String: Any]] ?? []).flatMap { $0["endpoints"] as? [String] ?? [] }
        }
        var endpoints: [String] = []
        for _ in 0..<30 where !endpoints.contains("[\(net.hosts[0][1].ipv6Address)]:7740") {
            endpoints = try webEndpoints()
            if endpoints.isEmpty { Thread.sleep(forTimeInterval: 1) }
        }
        #expect(endpoints.contains("[\(net.hosts[0][1].ipv6Address)]:7740"), "\(endpoints)")
        try NetworkHosts.ip("-n", net.hosts[0][1].namespace, "-6", "addr", "add", "fd77:1::4242/128", "dev", "lo")
        for _ in 0..<60 where !endpoints.contains("[fd77:1::4242]:7740") {
            Thread.sleep(forTimeInterval: 1)
            endpoints = try webEndpoints()
        }
        #expect(endpoints.contains("[fd77:1::4242]:7740"), "the record did not follow the new address: \(endpoints)\n\(first.log)")

        // Restarted with a bootstrap address that answers nothing, the resolver rejoins through
        // the routing table it saved, and finds both instances again.
        func dhtStatus() throws -> [String: Any] {
            try #require(jsonObject(try Peerdist.run("dht", "status", "--json", "--data-dir", resolver.dataDirectory).standardOutput))
        }
        let before = try dhtStatus()
        resolver.stop()
        let state = scratch.child("resolver") + "/dht-state.json"
        #expect(FileManager.default.fileExists(atPath: state), "no routing table saved")
        resolver = try node("resolver", net.hosts[2][0], bootstrap: ["--dht-bootstrap", "[fd77:99::9]:6881"])
        // The same node ID and a table already full at start: both came from the saved state.
        let after = try dhtStatus()
        #expect(after["node_id"] as? String == before["node_id"] as? String, "\(before) then \(after)")
        #expect((after["ipv4_nodes"] as? Int ?? 0) + (after["ipv6_nodes"] as? Int ?? 0) >= 4, "\(after)")
        found = []
        for _ in 0..<30 where found.count < 2 {
            found = try resolvedShares()
            if found.count < 2 { Thread.sleep(forTimeInterval: 1) }
        }
        #expect(found.count == 2, "after the restart 0.share resolved to \(found): \(resolver.log)")
    }

    /// Transmission's DHT (jech's dht, another Mainline implementation than libtorrent's) joins
    /// through libtorrent's nodes and PeerDist's, seeds a torrent and announces it; PeerDist's
    /// get_peers on another subnet finds Transmission as its peer.
    @Test(.needsNetworkHosts, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/transmission-daemon"), "needs transmission-daemon"))
    func aTorrentTransmissionAnnouncesIsFoundByPeerDist() throws {
        let net = try RoutedSubnets(subnets: 2, hostsPerSubnet: 2)
        defer { net.tearDown() }
        let scratch = try ScratchDirectory()
        let libtorrent = try LibtorrentDHT(script: Self.libtorrentScript, host: net.hosts[0][0], ports: 7001...7008, bootstrap: [], log: scratch.child("lt.log"))
        defer { libtorrent.stop() }
        try libtorrent.waitForNodes()
        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:7740", namespace: net.hosts[1][0].namespace,
            extraArguments: ["--global", "--dht-bootstrap", "\(net.hosts[0][0].ipv4Address):7001", "--dht-bootstrap", "[\(net.hosts[0][0].ipv6Address)]:7002", "--metrics", "0", "--web", "0"])
        defer { node.stop() }
        try waitForRoutingTable(node)
        let dhtPort = try #require(jsonObject(try Peerdist.run("dht", "status", "--json", "--data-dir", node.dataDirectory).standardOutput)?["port"] as? Int)

        // A torrent of a file, without trackers: the DHT is the only way to its seeder.
        let downloads = scratch.child("downloads")
        try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)
        try PublishFetchTests.makeFile(downloads + "/file.bin", size: 300_000, seed: 61)
        let torrent = scratch.child("file.torrent")
        let created = try Peerdist.runTool(["transmission-create", "-o", torrent, downloads + "/file.bin"])
        #expect(created.status == 0, "\(created.standardError)")
        let shown = try Peerdist.runTool(["transmission-show", torrent]).standardOutput
        let hashLine = try #require(shown.split(separator: "\n").first { $0.contains("Hash:") }, "\(shown)")
        let infoHash = String(hashLine.split(separator: " ").last ?? "")

        let seeder = net.hosts[0][1]
        let configuration = scratch.child("transmission")
        try FileManager.default.createDirectory(atPath: configuration, withIntermediateDirectories: true)
        let settings = """
            {"dht-enabled": true, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false, "peer-port": 51413,
             "port-forwarding-enabled": false, "rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": 9091,
             "rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
             "bind-address-ipv4": "\(seeder.ipv4Address)", "download-dir": "\(downloads)", "message-level": 3}
            """
        try settings.write(toFile: configuration + "/settings.json", atomically: true, encoding: .utf8)
        // Transmission's own way in: one "address port" a line.
        let bootstrap = (7001...7008).map { "\(net.hosts[0][0].ipv4Address) \($0)" } + ["\(net.hosts[1][0].ipv4Address) \(dhtPort)"]
        try bootstrap.joined(separator: "\n").write(toFile: configuration + "/dht.bootstrap", atomically: true, encoding: .utf8)
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        daemon.arguments = ["ip", "netns", "exec", seeder.namespace, "transmission-daemon", "-f", "-g", configuration, "--logfile", scratch.child("transmission.log")]
        try daemon.run()
        defer {
            // Started from the test process, it inherits a signal mask that blocks SIGTERM; its
            // state is scratch, so it is killed outright.
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }
        var added = false
        for _ in 0..<50 where !added {
            added = try Peerdist.runTool(["transmission-remote", "127.0.0.1:9091", "-a", torrent], namespace: seeder.namespace).status == 0
            if !added { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(added, "transmission-daemon did not take the torrent")

        var peers: [String] = []
        let expected = "\(seeder.ipv4Address):51413"
        for _ in 0..<90 where !peers.contains(expected) {
            let found = try Peerdist.run(["dht", "peers", infoHash, "--json", "--data-dir", node.dataDirectory], namespace: net.hosts[1][0].namespace)
            peers = jsonObject(found.standardOutput)?["peers"] as? [String] ?? []
            if !peers.contains(expected) { Thread.sleep(forTimeInterval: 1) }
        }
        let log = (try? String(contentsOfFile: scratch.child("transmission.log"), encoding: .utf8)) ?? ""
        #expect(peers.contains(expected), "PeerDist found \(peers) for \(infoHash); Transmission's log:\n\(log.suffix(3000))")
        // The DHT node's counts and table, as `serve --metrics` exposes them.
        let metrics = try OperationsTests.scrape(node, in: net.hosts[1][0].namespace)
        #expect((OperationsTests.sample("peerdist_dht_nodes{family=\"ipv4\"}", in: metrics) ?? 0) >= 1, "\(metrics)")
        #expect((OperationsTests.sample("peerdist_dht_queries_sent_total", in: metrics) ?? 0) >= 1)
        #expect((OperationsTests.sample("peerdist_dht_queries_answered_total", in: metrics) ?? 0) >= 1)
        // And the status page's state shows the DHT node and the names registered.
        #expect(try Peerdist.run(["names", "register", "0.seeder", "--scope", "global", "--data-dir", node.dataDirectory]).status == 0)
        let page = try OperationsTests.endpoint("status page on ", of: node)
        let state = try Peerdist.runTool(
            ["python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())", page + "status.json"],
            namespace: net.hosts[1][0].namespace)
        let object = jsonObject(state.standardOutput)
        #expect(((object?["dht"] as? [String: Any])?["ipv4_nodes"] as? Int ?? 0) >= 1, "\(state.standardOutput)")
        #expect((object?["names"] as? [[String: Any]])?.contains { $0["name"] as? String == "0.seeder" } == true, "\(state.standardOutput)")
    }

    /// KRPC garbage, deep nesting, forged tokens and signatures, and a flood from one address at
    /// a node's DHT port: it keeps answering, refuses the rest, and its memory stays bounded.
    @Test(.needsNetworkHosts) func hostileKRPCInputLeavesTheNodeUpAndBounded() throws {
        let net = try RoutedSubnets(subnets: 2, hostsPerSubnet: 1)
        defer { net.tearDown() }
        let scratch = try ScratchDirectory()
        let node = try NodeProcess(
            dataDirectory: scratch.child("node"), listen: "[::]:7740", namespace: net.hosts[0][0].namespace,
            extraArguments: ["--global", "--dht-bootstrap", "[fd77:2::2]:7001"])
        defer { node.stop() }
        let before = node.residentBytes
        let dhtStatus = try Peerdist.run(["dht", "status", "--json", "--data-dir", node.dataDirectory], namespace: net.hosts[0][0].namespace)
        let dhtPort = try #require(jsonObject(dhtStatus.standardOutput)?["port"] as? Int, "\(dhtStatus.standardOutput)\(dhtStatus.standardError)")
        let flood = """
            import os, random, socket
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            target = ("\(net.hosts[0][0].ipv6Address)", \(dhtPort))
            def tx(): return os.urandom(2)
            for i in range(60000):
                kind = i % 6
                if kind == 0: data = os.urandom(random.randint(1, 1400))
                elif kind == 1: data = b"l" * 1500 + b"e" * 1500
                elif kind == 2: data = b"d1:ad2:id20:" + os.urandom(20) + b"9:info_hash20:" + os.urandom(20) + b"4:porti1e5:token4:xxxxe1:q13:announce_peer1:t2:" + tx() + b"1:y1:qe"
                elif kind == 3: data = b"d1:ad2:id20:" + os.urandom(20) + b"1:k32:" + os.urandom(32) + b"3:seqi1e3:sig64:" + os.urandom(64) + b"5:token4:xxxx1:v1:xe1:q3:put1:t2:" + tx() + b"1:y1:qe"
                elif kind == 4: data = b"d1:ad2:id20:" + os.urandom(20) + b"6:target20:" + os.urandom(20) + b"e1:q9:find_node1:t2:" + tx() + b"1:y1:qe"
                else: data = b"d1:t2:aa1:y1:q1:q4:ping1:a999999999999:"
                s.sendto(data, target)
            """
        let script = scratch.child("flood.py")
        try flood.write(toFile: script, atomically: true, encoding: .utf8)
        let sent = try Peerdist.runTool(["/usr/bin/python3", script], namespace: net.hosts[1][0].namespace)
        #expect(sent.status == 0, "\(sent.standardError)")
        let status = try Peerdist.run(["dht", "status", "--json", "--data-dir", node.dataDirectory], namespace: net.hosts[0][0].namespace)
        #expect(status.status == 0, "\(status.standardError)")
        let counts = try #require(jsonObject(status.standardOutput))
        #expect((counts["datagrams_refused"] as? Int ?? 0) > 0)
        #expect((counts["queries_rate_limited"] as? Int ?? 0) > 0)
        #expect(node.process.isRunning)
        // Bounded: the tables have fixed limits; 60 000 datagrams must not cost 64 MiB.
        #expect(node.residentBytes - before < 64 << 20, "resident memory grew from \(before) to \(node.residentBytes)")
    }

    private func waitForRoutingTable(_ node: NodeProcess, file: StaticString = #filePath) throws {
        for _ in 0..<100 {
            let status = try Peerdist.run("dht", "status", "--json", "--data-dir", node.dataDirectory)
            if let object = jsonObject(status.standardOutput), (object["ipv4_nodes"] as? Int ?? 0) + (object["ipv6_nodes"] as? Int ?? 0) >= 4 { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw LibtorrentDHT.Failure(description: "the node's DHT routing table stayed nearly empty: \(node.log)")
    }
}

func jsonObject(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

