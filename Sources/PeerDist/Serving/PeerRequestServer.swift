import Logging
import NIOCore
import PeerDistWire

/// Answers one peer's requests, in order, until the peer hangs up or breaks the protocol (then
/// that connection alone is dropped; the node serves on).
///
/// Requests are read ahead of the answers, so that a cancel reaches the request it names while
/// that is still queued or being sent; each request goes to the handler for what it asks about:
/// content (Content Information, availability, blocks) or mirrors (roots, pages, diffs, chunks).
struct PeerRequestServer: Sendable {
    let source: any ContentSource
    let mirrorSource: any MirrorSource
    let policy: ReplyPolicy
    /// Who may read private content and mirrors; each connection sees only what its peer may.
    let access: any AccessRules
    let collaboration: CollaborationRequestHandler?
    let counters: NodeCounters
    let logger: Logger

    /// Requests read but not yet answered, at most: a client keeps far fewer in flight.
    static let maximumQueuedRequests = 1024

    init(
        source: any ContentSource, mirrors: any MirrorSource = NoMirrors(), access: any AccessRules = PublicAccess(),
        collaboration: Collaboration? = nil, counters: NodeCounters, logger: Logger, corruptsBlocks: Bool, uploadLimit: RateLimiter?
    ) {
        self.policy = ReplyPolicy(counters: counters, corruptsBlocks: corruptsBlocks, uploadLimit: uploadLimit)
        self.source = source
        self.mirrorSource = mirrors
        self.access = access
        self.collaboration = collaboration.map(CollaborationRequestHandler.init)
        self.counters = counters
        self.logger = logger
    }

    /// The handlers for one connection, seeing only what `remote` may read.
    private func handlers(for remote: PeerKey) -> (content: ContentRequestHandler, mirrors: MirrorRequestHandler) {
        (ContentRequestHandler(source: AudienceFilteredContent(base: source, rules: access, remote: remote), policy: policy, access: access),
         MirrorRequestHandler(source: AudienceFilteredMirrors(base: mirrorSource, rules: access, remote: remote), policy: policy, access: access))
    }

    func serve(_ connection: PeerNetwork.Connection) async {
        counters.update { $0.connectionsAccepted += 1 }
        var logger = logger
        do {
            // Every exit goes through executeThenClose, which finishes the channel's writer.
            try await connection.channel.executeThenClose { inbound, outbound in
                let remote = try await connection.established.get()
                logger[metadataKey: "peer.fingerprint"] = "\(remote.fingerprint)"
                let book = RequestBook()
                let (requests, continuation) = AsyncThrowingStream.makeStream(of: PeerMessage.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            for try await message in inbound {
                                if case .cancel(let requestID) = message {
                                    book.cancel(requestID)
                                    continue
                                }
                                guard book.enqueue(message) <= Self.maximumQueuedRequests else {
                                    throw NodeError(.protocolViolation, "the peer has more than \(Self.maximumQueuedRequests) requests waiting")
                                }
                                continuation.yield(message)
                            }
                            continuation.finish()
                        } catch {
                            continuation.finish(throwing: error)
                        }
                    }
                    let context = ReplyContext(outbound: outbound, eventLoop: connection.channel.channel.eventLoop, compressor: BlockCompressor(), book: book)
                    let (content, mirrors) = handlers(for: remote)
                    for try await message in requests {
                        if case .collaboration(let requestID, let kind, let payload) = message {
                            guard let collaboration else { throw NodeError(.protocolViolation, "this node takes no collaboration requests") }
                            // A watch or an invitation lasts: it runs beside the requests that follow.
                            if let work = try await collaboration.handle(requestID: requestID, kind: kind, payload: payload, remote: remote, outbound: outbound) {
                                group.addTask(operation: work)
                            }
                        } else {
                            try await route(message, content: content, mirrors: mirrors, context: context)
                        }
                        book.answered(message)
                    }
                    // The peer hung up: what still runs for it (a watch, a waiting invitation) ends.
                    group.cancelAll()
                    try await group.waitForAll()
                }
            }
        } catch {
            counters.update { $0.connectionsDropped += 1 }
            logger.info("dropped connection", metadata: ["error": "\(error)"])
        }
    }

    private func route(_ message: PeerMessage, content: ContentRequestHandler, mirrors: MirrorRequestHandler, context: ReplyContext) async throws {
        switch message {
        case .getContentInformation(let requestID, let discoveryKey):
            try await content.contentInformation(requestID: requestID, discoveryKey: discoveryKey, context: context)
        case .getAvailability(let requestID, let discoveryKey):
            try await content.availability(requestID: requestID, discoveryKey: discoveryKey, context: context)
        case .getBlockList(let requestID, let segmentID, let ranges):
            try await content.blockList(requestID: requestID, segmentID: segmentID, ranges: ranges, context: context)
        case .getBlocks(let requestID, let segmentID, let ranges):
            try await content.blocks(requestID: requestID, segmentID: segmentID, ranges: ranges, context: context)
        case .getMirrorRoot(let requestID, let discoveryKey):
            try await mirrors.root(requestID: requestID, discoveryKey: discoveryKey, context: context)
        case .getMirrorPage(let requestID, let discoveryKey, let pageHash):
            try await mirrors.page(requestID: requestID, discoveryKey: discoveryKey, pageHash: pageHash, context: context)
        case .getMirrorDiff(let requestID, let discoveryKey, let from, let to):
            try await mirrors.diff(requestID: requestID, discoveryKey: discoveryKey, from: from, to: to, context: context)
        case .getChunks(let requestID, let discoveryKey, let chunks):
            try await mirrors.chunks(requestID: requestID, discoveryKey: discoveryKey, chunks: chunks, context: context)
        case .getChunkDelta(let requestID, let discoveryKey, let chunk, let base):
            try await mirrors.chunkDelta(requestID: requestID, discoveryKey: discoveryKey, chunk: chunk, base: base, context: context)
        case .cancel:
            // Taken by the reader as it arrives.
            break
        case .collaboration:
            // Taken by the serving loop.
            break
        case .contentInformation, .availability, .blockList, .block, .replyEnd, .error, .mirrorPart, .chunk, .chunks:
            throw NodeError(.protocolViolation, "a peer sent a reply where a request was expected")
        }
    }
}
