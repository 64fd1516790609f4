import Foundation
import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import PeerDistMirror
import ServiceLifecycle

/// Serves a node's control socket: decodes each request line, has the node carry it out, and
/// writes the reply (after `progress` lines, for a fetch).
///
/// The socket is bound mode 0600 in the data directory, whose lock the node holds, so a socket
/// file found there is a leftover from a dead node and is replaced.
struct ControlServer: Sendable {
    private let node: PeerNode
    private let listener: NIOAsyncChannel<ControlChannel, Never>
    private let logger: Logger

    /// Binds the socket at `path`; requests are served once `run` is called.
    static func bind(at path: String, for node: PeerNode, logger: Logger) async throws -> ControlServer {
        unlink(path)
        let previous = umask(0o177)
        defer { umask(previous) }
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { ControlSocket.configure($0) }
        return ControlServer(node: node, listener: listener, logger: logger)
    }

    /// Serves connections, each on its own task, until a graceful shutdown or cancellation.
    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await listener.acceptEach { connection in await handle(connection) }
        }
    }

    private func handle(_ connection: ControlChannel) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await line in inbound {
                    let request: ControlRequest
                    do {
                        request = try ControlSocket.decode(ControlRequest.self, from: line)
                    } catch {
                        try await outbound.write(ControlSocket.encode(ControlEvent.failure("malformed control request: \(Self.describe(error))")))
                        return
                    }
                    if case .people(.events) = request {
                        try await streamEvents(to: outbound)
                        return
                    }
                    // Progress goes through a one-slot buffer: a slow reader sees fewer updates but
                    // never stalls the fetch.
                    let (progress, continuation) = AsyncStream.makeStream(of: ControlEvent.self, bufferingPolicy: .bufferingNewest(1))
                    async let forwarded: Void = {
                        for await event in progress {
                            try? await outbound.write(ControlSocket.encode(event))
                        }
                    }()
                    let reply: ControlEvent
                    do {
                        reply = try await perform(request) { continuation.yield($0) }
                    } catch {
                        reply = .failure("\(error)")
                    }
                    continuation.finish()
                    await forwarded
                    try await outbound.write(ControlSocket.encode(reply))
                }
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func perform(_ request: ControlRequest, emit: @escaping @Sendable (ControlEvent) -> Void) async throws -> ControlEvent {
        var reply = ControlEvent(event: .result)
        switch request {
        case .status:
            reply.status = node.status()
        case .publish(let path, let version, let audience):
            let published = try await node.publish(path: path, version: version, audience: try PeopleControl(node: node).audience(audience))
            reply.contentID = published.contentID.hex
            reply.uri = published.contentID.uri
            reply.path = published.path
        case .fetch(let fetch):
            let path = try await node.fetch(
                id: fetch.id, peers: fetch.peers, output: fetch.output, replace: fetch.replace, maximumRate: fetch.maximumRate,
                global: fetch.global
            ) { update in
                var event = ControlEvent(event: .progress)
                event.heldBytes = update.heldBytes
                event.totalBytes = update.totalBytes
                event.receivedBytes = update.receivedBytes
                event.peer = update.peer
                event.bytesByPeer = update.bytesByPeer
                emit(event)
            }
            reply.path = path
            reply.contentID = fetch.id.hex
            reply.receivedBytes = node.counters.snapshot.blockBytesReceived
            reply.rejectedBlocks = node.counters.snapshot.blocksRejected
        case .fetchURL(let fetch):
            let result = try await node.fetch(
                url: fetch.url, output: fetch.output, replace: fetch.replace, hostedCache: fetch.hostedCache ?? node.configuration.hostedCacheServer,
                maximumRate: fetch.maximumRate
            ) { update in
                var event = ControlEvent(event: .progress)
                event.heldBytes = update.heldBytes
                event.totalBytes = update.totalBytes
                event.receivedBytes = update.receivedBytes
                event.peer = update.peer
                event.bytesByPeer = update.bytesByPeer
                emit(event)
            }
            reply.path = result.path
            reply.size = result.size
            reply.fromPeers = result.fromPeers
            reply.fromOrigin = result.fromOrigin
            reply.peerDist = result.peerDist
            reply.rejectedBlocks = result.rejectedBlocks
        case .peers:
            reply.peers = node.peerDirectory.all
        case .storeList:
            reply.entries = node.store.entries().map(StoreListing.init)
        case .storeRemove(let id):
            try node.store.remove(contentID: id)
        case .storeCollect:
            reply.freedBytes = node.store.collectGarbage().freedBytes
        case .mirrorPublish(let directory, let classifier, let watch, let audience):
            let mirrors = node.mirrors
            // The audience first: the new mirror is announced on the LAN as it is published.
            if let readers = try PeopleControl(node: node).audience(audience) {
                try node.restrict(mirror: try mirrors.name(forDirectory: directory, classifier: classifier).description, to: readers)
            }
            let status = try await mirrors.offload {
                try mirrors.publish(directory: directory, classifier: classifier, watch: watch)
            }
            reply.mirrors = [status]
        case .mirrorFollow(let name, let directory):
            reply.mirrors = [try node.mirrors.follow(name: name, directory: directory)]
        case .mirrorStatus:
            reply.mirrors = node.mirrors.statuses()
        case .people(let request):
            reply.people = try await PeopleControl(node: node).perform(request, emit: emit)
        case .publishTree(let path):
            let mirrors = node.mirrors
            let published = try await mirrors.offload { try mirrors.publishSnapshot(directory: path) }
            reply.contentID = published.id.hex
            reply.uri = published.id.uri
            reply.path = path
            reply.treeSummary = TreeSummary(published)
        case .fetchTree(let fetch):
            let result = try await node.mirrors.fetchSnapshot(fetch.reference, peers: fetch.peers, output: fetch.output, replace: fetch.replace) { update in
                var event = ControlEvent(event: .progress)
                event.heldBytes = update.heldBytes
                event.totalBytes = update.totalBytes
                event.receivedBytes = update.receivedBytes
                event.peer = update.peer
                emit(event)
            }
            reply.path = result.path
            reply.contentID = fetch.reference.id.hex
            reply.receivedBytes = result.receivedBytes
            reply.totalBytes = result.bytes
        case .listTree(let id, let peers):
            reply.contentID = id.hex
            reply.tree = try await node.mirrors.snapshotManifest(id, peers: peers).manifest.entries.map(TreeListingEntry.init)
        case .dht(let request):
            reply.dht = try await node.perform(request)
        }
        return reply
    }

    /// Writes each collaboration event as an `update` line until the reader hangs up.
    private func streamEvents(to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        for await event in node.collaboration.events.subscribe(bufferingNewest: 1024) {
            var line = ControlEvent(event: .update)
            line.people = PeopleReply()
            line.people?.event = event
            try await outbound.write(ControlSocket.encode(line))
        }
    }

    /// A decoding failure in one line: which field, and what was wrong with it.
    private static func describe(_ error: any Error) -> String {
        guard let failure = error as? DecodingError else { return "\(error)" }
        switch failure {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = context.codingPath.last.map { "\($0.stringValue): " } ?? ""
            return field + context.debugDescription
        case .keyNotFound(let key, _):
            return "\(key.stringValue) is missing"
        @unknown default:
            return "\(error)"
        }
    }
}
