import ArgumentParser
import PeerDist
import PeerDistBranchCache

/// `serve`'s BranchCache options: the MS-PCCRR (HTTP) server and how it encrypts blocks.
struct BranchCacheServeOptions: ParsableArguments {
    @Option(name: .customLong("branchcache-port"), help: ArgumentHelp(
        "Serve BranchCache clients (MS-PCCRR over HTTP) on this port, and answer their MS-PCCRD probes naming it.",
        discussion: "Windows peers use 80; any port works, since clients learn it from the probe answer. 0 takes any free port.",
        valueName: "port"))
    var port: Int?

    @Option(name: .customLong("branchcache-key"), help: ArgumentHelp(
        "Which bytes of a segment's secret Kp key the AES of the blocks served: 'leading' (the first 16/24/32 bytes, as iPXE expects) or 'whole' (AES-256 with all of Kp).",
        valueName: "rule"))
    var keyRule: PCCRRBlockCipher.KeyRule = .leadingBytes

    @Option(name: .customLong("branchcache-active-clients"), help: ArgumentHelp(
        "MS-PCCRR requests served at once; beyond it replies are empty and clients turn to other peers.", valueName: "count"))
    var activeClientLimit = PCCRRServer.defaultActiveClientLimit

    @Option(name: .customLong("branchcache-v2-bit-order"), help: ArgumentHelp(
        "How version 2 MS-PCCRD replies pack two bits per probed segment: 'msb' (first segment in the high bits) or 'lsb'; undocumented by Microsoft.",
        valueName: "order"))
    var version2BitOrder: PCCRDBitOrder = .mostSignificantFirst

    @Flag(name: .customLong("hosted-cache"), help: "Be the branch's BranchCache hosted cache (MS-PCHC): take clients' offers, pull and keep their segments, serve them over MS-PCCRR.")
    var hostsCache = false

    @Option(name: .customLong("hosted-cache-port"), help: ArgumentHelp("Port of the hosted cache, for offers and MS-PCCRR alike (default 80, as Windows).", valueName: "port"))
    var hostedCachePort: Int?

    @Option(name: .customLong("hosted-cache-server"), help: ArgumentHelp(
        "A hosted cache to offer what this node holds to; it pulls from --branchcache-port.", valueName: "[addr]:port"))
    var hostedCacheServer: String?

    func validate() throws {
        if let hostedCachePort, !(0...65_535).contains(hostedCachePort) {
            throw ValidationError("--hosted-cache-port takes a port from 0 to 65535 (80 is Windows' default).")
        }
        if let hostedCacheServer {
            guard PeerAddress(parsing: hostedCacheServer) != nil else {
                throw ValidationError("--hosted-cache-server takes [address]:port, e.g. [fe80::1%eth0]:80 or 10.0.0.5:80.")
            }
            guard port != nil else {
                throw ValidationError("--hosted-cache-server needs --branchcache-port: the hosted cache pulls the offered blocks from there.")
            }
        }
        if let port, !(0...65_535).contains(port) {
            throw ValidationError("--branchcache-port takes a port from 0 to 65535 (80 is Windows' default).")
        }
        guard (1...16_384).contains(activeClientLimit) else {
            throw ValidationError("--branchcache-active-clients takes 1 to 16384 (MS-PCCRR's range; the default is 64).")
        }
    }

    func apply(to configuration: inout PeerNode.Configuration) {
        configuration.branchCachePort = port
        configuration.branchCacheKeyRule = keyRule
        configuration.branchCacheActiveClientLimit = activeClientLimit
        configuration.branchCacheV2BitOrder = version2BitOrder
        if hostsCache || hostedCachePort != nil { configuration.hostedCachePort = hostedCachePort ?? 80 }
        configuration.hostedCacheServer = hostedCacheServer.flatMap { PeerAddress(parsing: $0) }
    }
}

extension PCCRRBlockCipher.KeyRule: ExpressibleByArgument {}
extension PCCRDBitOrder: ExpressibleByArgument {}
