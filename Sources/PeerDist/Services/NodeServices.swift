import Foundation
import Logging
import NIOCore
import PeerDistWire
import ServiceLifecycle

/// Accepts peers on the node's listening socket and serves each connection's requests until a
/// graceful shutdown or cancellation, which closes the socket (connections under way end with it).
struct PeerListenerService: Service {
    let listener: NIOAsyncChannel<PeerNetwork.Connection, Never>
    let server: PeerRequestServer

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await listener.acceptEach { connection in await server.serve(connection) }
        }
    }
}

extension NIOAsyncChannel where Outbound == Never, Inbound: Sendable {
    /// Serves each accepted connection on a task of its own until cancelled, which closes the
    /// listening socket; the peer listener and the control server accept this way.
    func acceptEach(_ serve: @escaping @Sendable (Inbound) async -> Void) async throws {
        try await withTaskCancellationHandler {
            try await executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await serve(connection) }
                    }
                }
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

/// A part of the node that may fail without taking the node down (LAN discovery, the
/// BranchCache responder): its failure is logged, and the node serves on. With `restarts`, the
/// part is started again after a pause (1 s, doubling to 30 s) whenever it ends: a UDP socket
/// that NIO closes on an ICMP error (a reply to a host that vanished comes back unreachable)
/// must not leave the node deaf to the LAN for the rest of its life.
struct OptionalPartService: Service {
    /// For the log: "LAN discovery", "BranchCache discovery".
    let name: String
    let logger: Logger
    var restarts = false
    let body: @Sendable () async throws -> Void

    init(name: String, logger: Logger, restarts: Bool = false, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.logger = logger
        self.restarts = restarts
        self.body = body
    }

    func run() async throws {
        var pause: Duration = .seconds(1)
        while true {
            let started = ContinuousClock.now
            do {
                try await cancelWhenGracefulShutdown { try await body() }
                guard restarts, !Task.isCancelled else { return }
                logger.warning("\(name) stopped; starting it again", metadata: ["pause": "\(pause)"])
            } catch is CancellationError where Task.isCancelled {
                return
            } catch {
                guard restarts, !Task.isCancelled else {
                    logger.warning("\(name) is off", metadata: ["error": "\(error)"])
                    return
                }
                logger.warning("\(name) failed; starting it again", metadata: ["error": "\(error)", "pause": "\(pause)"])
            }
            // A part that ran a while before it ended starts again at once-ish; one that keeps
            // failing at start waits longer each time.
            let wait = ContinuousClock.now - started > .seconds(60) ? .seconds(1) : pause
            pause = min(wait * 2, .seconds(30))
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            } catch {
                return
            }
        }
    }
}

extension MirrorService: Service {}

extension ControlServer: Service {}

/// Runs the live part of Peer Collaboration: watching contacts, People Near Me's refreshes and
/// expiry. On a graceful shutdown it says "offline" to watchers and the LAN before it returns,
/// while the listener and LAN discovery (which stop after it) still carry the words.
struct CollaborationService: Service {
    let collaboration: Collaboration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await collaboration.runWatchers() }
                group.addTask { await collaboration.runNearMe() }
                group.addTask { await collaboration.relayNearMeChanges() }
            }
        }
        collaboration.goOffline()
        // Long enough for the updates to leave; returns at once when the node is cancelled.
        try? await Task.sleep(for: .milliseconds(300))
    }
}
