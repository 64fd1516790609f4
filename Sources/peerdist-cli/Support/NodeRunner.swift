import Logging
import PeerDist
import PeerDistCommandSupport
import ServiceLifecycle

/// Opening a node from the command line, and running it until SIGINT or SIGTERM.
enum NodeRunner {
    /// How long the node's parts have, after a signal, to finish what they are doing before they
    /// are cancelled.
    static let shutdownGrace: Duration = .seconds(10)

    static func open(
        _ options: NodeOptions, listen: PeerAddress? = nil, quota: ByteCount? = nil, maximumUpload: ByteCount? = nil,
        answersBranchCacheProbes: Bool = false, presenceHeartbeat: Duration? = nil, configure: (inout PeerNode.Configuration) -> Void = { _ in }
    ) throws -> PeerNode {
        OpenFileLimit.raiseToHardLimit()
        HeapTuning.apply()
        var configuration = PeerNode.Configuration(dataDirectory: options.directory, listen: listen, quotaBytes: quota.map { UInt64($0.bytes) })
        configuration.answersBranchCacheProbes = answersBranchCacheProbes
        configuration.maximumUploadRate = maximumUpload.flatMap { $0.bytes > 0 ? UInt64($0.bytes) : nil }
        if let presenceHeartbeat { configuration.presenceHeartbeat = presenceHeartbeat }
        configure(&configuration)
        do {
            return try PeerNode(configuration: configuration, logger: options.logger())
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    /// Runs `node` in a service group that shuts it down gracefully on SIGINT or SIGTERM;
    /// `announce` is called once its sockets are bound.
    /// `alongside` run in the same group (bound already, as the operator endpoints are).
    static func runUntilSignalled(
        _ node: PeerNode, logger: Logger, alongside: [(name: String, service: any Service)] = [],
        announce: @escaping @Sendable (PeerNode) -> Void
    ) async throws {
        // Named, as the node's own services are (`PeerNode.run`).
        let services = [ServiceGroupConfiguration.ServiceConfiguration(service: AnnouncedNode(node: node, announce: announce), serviceName: "node")]
            + alongside.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0.service, serviceName: $0.name) }
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdownGrace
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch is CancellationError {
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

/// The node as the command runs it: announced (its fingerprint and addresses printed) once bound.
private struct AnnouncedNode: Service {
    let node: PeerNode
    let announce: @Sendable (PeerNode) -> Void

    func run() async throws {
        try await node.run(whenReady: { announce(node) })
    }
}
