import ArgumentParser
import PeerDist

/// `--global` and what goes with it: whether and how the node joins BitTorrent's Mainline DHT.
struct DHTOptions: ParsableArguments {
    @Flag(name: .customLong("global"), help: ArgumentHelp(
        "Join BitTorrent's Mainline DHT: announce held content there, and find holders and names beyond the LAN.",
        discussion: "Off by default: it tells nodes on the Internet this node's address and that it holds something (under keys that reveal nothing readable)."))
    var global = false

    @Option(name: .customLong("dht-bootstrap"), parsing: .upToNextOption, help: ArgumentHelp(
        "DHT nodes to join through, instead of those in the data directory's dht-bootstrap file or the well-known routers (router.bittorrent.com:6881 and others).", valueName: "[addr]:port"))
    var bootstrap: [String] = []

    @Option(name: .customLong("dht-port"), help: ArgumentHelp("UDP port of the DHT node (default 6881, or any free port when it is taken; 0 for any).", valueName: "port"))
    var port: Int?

    func validate() throws {
        if !global, !bootstrap.isEmpty || port != nil {
            throw ValidationError("--dht-bootstrap and --dht-port go with --global.")
        }
        for entry in bootstrap {
            guard let colon = entry.lastIndex(of: ":"), let number = Int(entry[entry.index(after: colon)...]), (1...65535).contains(number),
                  colon > entry.startIndex
            else {
                throw ValidationError("--dht-bootstrap takes host:port or [address]:port, e.g. [fd00::1]:6881 or router.bittorrent.com:6881; not '\(entry)'.")
            }
        }
        if let port, !(0...65535).contains(port) { throw ValidationError("--dht-port takes 0 to 65535.") }
    }

    var settings: PeerNode.DHTSettings? {
        guard global else { return nil }
        var settings = PeerNode.DHTSettings()
        if !bootstrap.isEmpty { settings.bootstrap = bootstrap }
        settings.port = port
        return settings
    }
}
