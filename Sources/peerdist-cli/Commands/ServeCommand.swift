import ArgumentParser
import Foundation
import Logging
import PeerDist
import PeerDistCommandSupport
import PeerDistOperations
import Prometheus
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the node in the foreground: serve published and cached content to peers.",
        discussion: """
            Controlled through the Unix socket control.sock (mode 0600) in the data directory. Stops cleanly on SIGINT or SIGTERM. \
            Every option below can also be set in peerdist.toml in the data directory (key = the option's long name, e.g. \
            quota = "20GiB"); options on the command line win. `peerdist config show` prints the effective values.
            """
    )

    @OptionGroup var node: NodeOptions

    @Option(help: ArgumentHelp("Address and port to accept peers on.", valueName: "[addr]:port"))
    var listen = "[::]:\(PeerAddress.defaultPort)"

    @Option(help: "Largest size of fetched content kept in the cache (e.g. 20GiB); least recently used goes first.")
    var quota: ByteCount?

    @Option(name: .customLong("max-upload"), help: ArgumentHelp("Send at most this many bytes per second to all peers together (e.g. 50MiB).", valueName: "rate"))
    var maximumUpload: ByteCount?

    @Flag(name: .customLong("answer-branchcache-probes"), help: ArgumentHelp(
        "Also answer BranchCache (MS-PCCRD) segment probes on [ff02::c]:3702.",
        discussion: "BranchCache clients then learn which segments this node holds. Implied by --branchcache-port, which also serves them the blocks; alone, XAddrs names the peer port, where BranchCache clients find no MS-PCCRR server."))
    var answersBranchCacheProbes = false

    @OptionGroup(title: "BranchCache") var branchCache: BranchCacheServeOptions

    @OptionGroup(title: "HTTP origin") var origin: OriginServeOptions

    @OptionGroup(title: "Operations") var operations: OperationsServeOptions
    @OptionGroup(title: "Mainline DHT") var dht: DHTOptions

    @Option(name: .customLong("presence-heartbeat"), help: ArgumentHelp(
        "Seconds between the heartbeats this node sends its watchers; it calls a watched contact offline after three of its own missed (default 20).",
        valueName: "seconds", visibility: .hidden))
    var presenceHeartbeat: Double?

    func validate() throws {
        try branchCache.validate()
        try operations.validate()
        try dht.validate()
        if let presenceHeartbeat, !(0.1...3600).contains(presenceHeartbeat) {
            throw ValidationError("--presence-heartbeat takes 0.1 to 3600 seconds.")
        }
        guard PeerAddress(parsing: listen, listening: true) != nil else {
            throw ValidationError("--listen takes [address]:port, e.g. [::]:7740 or [fe80::1%eth0]:7740.")
        }
    }

    func run() async throws {
        let node = try NodeRunner.open(
            node, listen: PeerAddress(parsing: listen, listening: true), quota: quota, maximumUpload: maximumUpload,
            answersBranchCacheProbes: answersBranchCacheProbes, presenceHeartbeat: presenceHeartbeat.map { .milliseconds(Int($0 * 1000)) },
            configure: { [origin = try origin.origin()] configuration in
                branchCache.apply(to: &configuration)
                configuration.httpOrigin = origin
                configuration.dht = dht.settings
            })
        let logger = self.node.logger()
        var endpoints: [(name: String, server: OperationsHTTPServer)] = []
        if let metrics = operations.metrics.flatMap(EndpointAddress.init(parsing:)) {
            let registry = PrometheusCollectorRegistry()
            NodeMetrics.bootstrap(registry)
            let exporter = NodeMetrics(node: node, registry: registry)
            endpoints.append(("metrics", try await Self.bind("--metrics", metrics) { try await OperationsEndpoints.metrics(exporter, host: $0, port: $1, logger: logger) }))
        }
        if let web = operations.web.flatMap(EndpointAddress.init(parsing:)) {
            endpoints.append(("web", try await Self.bind("--web", web) { try await OperationsEndpoints.statusPage(for: node, host: $0, port: $1, logger: logger) }))
        }
        let addresses = endpoints.map { (name: $0.name, url: "http://\($0.server.address)/\($0.name == "metrics" ? "metrics" : "")") }
        try await NodeRunner.runUntilSignalled(node, logger: logger, alongside: endpoints.map { (name: "\($0.name) endpoint", service: $0.server) }, announce: { node in
            if self.node.json {
                var fields = ["fingerprint": node.identity.fingerprint, "listening": node.listeningAddresses.joined(separator: " ")]
                if !node.branchCacheAddresses.isEmpty { fields["branchcache"] = node.branchCacheAddresses.joined(separator: " ") }
                for endpoint in addresses { fields[endpoint.name] = endpoint.url }
                try? Output.json(fields)
            } else {
                Output.line("node \(node.identity.fingerprint) listening on \(node.listeningAddresses.joined(separator: ", "))")
                for address in node.branchCacheAddresses { Output.line("serving BranchCache (MS-PCCRR) on \(address)") }
                for address in node.hostedCacheAddresses { Output.line("hosted cache (MS-PCHC) for the branch on \(address)") }
                for address in node.originAddresses { Output.line("serving files over HTTP (MS-PCCRTP origin) on \(address)") }
                for endpoint in addresses { Output.line("\(endpoint.name == "metrics" ? "metrics" : "status page") on \(endpoint.url)") }
                if let dht = node.dht { Output.line("on the Mainline DHT as \(dht.nodeID.hex)") }
                Output.line("data directory \(node.configuration.dataDirectory.path)")
            }
        })
    }

    /// Binds an operator endpoint, or says which one could not be opened.
    private static func bind(
        _ option: String, _ address: EndpointAddress, _ open: (String, Int) async throws -> OperationsHTTPServer
    ) async throws -> OperationsHTTPServer {
        do {
            return try await open(address.host, address.port)
        } catch {
            throw CommandFailure("\(option): cannot listen on \(address.host) port \(address.port): \(error)")
        }
    }
}
