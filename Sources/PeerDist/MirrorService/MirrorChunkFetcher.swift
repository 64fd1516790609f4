import Logging
import NIOCore
import PeerDistHashing
import PeerDistWire
import PeerDistMirror

/// Fetches the chunks a follower lacks from every peer that holds the mirror at once: each
/// peer's session keeps several requests in flight on one connection and takes its batches from
/// one `MirrorChunkQueue`, so fast peers take more. A chunk with a base (a similar chunk the
/// follower holds, see `DeltaBases`) is asked for on its own, as a delta against that base.
/// Every chunk is checked against its hash before it is handed on; a peer that sends a wrong one,
/// or a delta that does not apply, is dropped from the fetch.
struct MirrorChunkFetcher: Sendable {
    let identity: NodeIdentity
    let counters: NodeCounters
    let logger: Logger
    /// Requests outstanding per connection, and their size: enough to keep a LAN pipe full.
    var requestsInFlight = 8
    var chunksPerRequest = 32
    var bytesPerRequest = 2 << 20
    /// A peer that sends nothing for this long is given up.
    var stallTimeout: Duration = .seconds(15)

    /// The bytes of a chunk's base, when it has one this node can still read.
    typealias Bases = @Sendable (ChunkReference) -> [UInt8]?

    /// A request in flight: the chunks it names, and for a delta the base it was made against.
    private struct Request {
        var chunks: [ChunkReference]
        var base: (bytes: [UInt8], blockSize: Int)?
    }

    /// Fetches `missing` from `peers`, handing each verified chunk to `keep` (called from several
    /// tasks at once); `bases` gives the base of a chunk to ask for as a delta (called as the
    /// chunk is asked for, so bases are read only while needed). Throws when some chunk could not
    /// be had from any of them.
    func fetch(
        _ missing: [ChunkReference], of name: some ManifestAddress, from peers: [PeerAddress], bases: @escaping Bases = { _ in nil },
        keep: @escaping @Sendable (ChunkReference, UnsafeRawBufferPointer) throws -> Void
    ) async throws {
        let queue = MirrorChunkQueue(missing: missing)
        var failures: [String] = []
        var usable = peers
        // A session ends when its peer has nothing left to be asked for; chunks another peer
        // gave back after that are taken in another round by the peers still in good standing.
        while !queue.isComplete {
            let round = usable.filter { !queue.isExhausted(for: $0) }
            guard !round.isEmpty else { break }
            for peer in round { queue.join(peer) }
            await withTaskGroup(of: (PeerAddress, (any Error)?).self) { group in
                for peer in round {
                    group.addTask {
                        do {
                            try await session(with: peer, name: name, queue: queue, bases: bases, keep: keep)
                            return (peer, nil)
                        } catch {
                            return (peer, error)
                        }
                    }
                }
                for await (peer, error) in group {
                    queue.leave(peer)
                    guard let error else { continue }
                    usable.removeAll { $0 == peer }
                    failures.append("\(peer): \(error)")
                    logger.info("mirror peer left the fetch", metadata: ["peer": "\(peer)", "error": "\(error)"])
                }
            }
        }
        guard queue.isComplete else {
            let reasons = failures.isEmpty ? "" : " (" + failures.joined(separator: "; ") + ")"
            throw NodeError(.notFound, "\(queue.remaining) chunks of \(name) could not be had from \(peers.count) peers\(reasons)")
        }
    }

    private func session(
        with peer: PeerAddress, name: some ManifestAddress, queue: MirrorChunkQueue, bases: @escaping Bases,
        keep: @escaping @Sendable (ChunkReference, UnsafeRawBufferPointer) throws -> Void
    ) async throws {
        let (channel, _) = try await PeerNetwork.connect(host: peer.host, port: peer.port, identity: identity)
        let discoveryKey = name.discoveryKey
        let activity = Watchdog(timeout: stallTimeout)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await activity.run { try? await channel.channel.close() }
            }
            group.addTask {
                defer { activity.finish() }
                try await channel.executeThenClose { inbound, outbound in
                    var requests: [UInt32: Request] = [:]
                    var nextID: UInt32 = 1
                    func sendMore() async throws {
                        while requests.count < requestsInFlight {
                            let batch = queue.take(for: peer, count: chunksPerRequest, bytes: bytesPerRequest)
                            guard !batch.isEmpty else { return }
                            // Chunks with a base go one to a request, the rest together.
                            var messages: [PeerMessage] = []
                            var whole: [ChunkReference] = []
                            for chunk in batch {
                                guard let base = bases(chunk) else {
                                    whole.append(chunk)
                                    continue
                                }
                                let signature = ChunkSignature(base: base)
                                requests[nextID] = Request(chunks: [chunk], base: (base, signature.blockSize))
                                messages.append(.getChunkDelta(requestID: nextID, discoveryKey: discoveryKey, chunk: chunk, base: signature))
                                nextID &+= 1
                            }
                            if !whole.isEmpty {
                                requests[nextID] = Request(chunks: whole)
                                messages.append(.getChunks(requestID: nextID, discoveryKey: discoveryKey, chunks: whole))
                                nextID &+= 1
                            }
                            try await outbound.write(contentsOf: messages)
                        }
                    }
                    /// Checks one chunk against its hash and keeps it, or notes that the peer lacks it.
                    func receive(requestID: UInt32, _ reply: ChunkReply) throws {
                        guard let request = requests[requestID], Int(reply.index) < request.chunks.count else {
                            throw NodeError(.protocolViolation, "the peer sent a chunk nobody asked for")
                        }
                        let chunk = request.chunks[Int(reply.index)]
                        if reply.flags.contains(.notHeld) {
                            queue.lacks(chunk.hash, peer: peer)
                            return
                        }
                        let isDelta = reply.flags.contains(.delta)
                        /// Checks the chunk's bytes against its hash, then keeps them.
                        func accept(_ bytes: UnsafeRawBufferPointer) throws {
                            guard HashAlgorithm.sha256.digest(bytes) == chunk.hash else {
                                counters.update { $0.chunksRejected += 1 }
                                throw NodeError(.verificationFailed, "the peer sent a chunk\(isDelta ? " delta" : "") that does not match its hash")
                            }
                            try keep(chunk, bytes)
                        }
                        if isDelta {
                            guard let base = request.base else { throw NodeError(.protocolViolation, "the peer sent a delta for a chunk asked for whole") }
                            let bytes: [UInt8]
                            do {
                                bytes = try ChunkDeltaReply.decode(
                                    reply.payload, compressed: reply.flags.contains(.compressed), base: base.bytes, blockSize: base.blockSize, as: chunk)
                            } catch {
                                throw NodeError(.protocolViolation, "the peer's delta for chunk \(chunk.hash.hex.prefix(16))… does not apply: \(error)")
                            }
                            try bytes.withUnsafeBytes(accept)
                        } else if reply.flags.contains(.compressed) {
                            try Self.open(reply.payload, compressed: true, as: chunk).withUnsafeBytes(accept)
                        } else {
                            // Checked and kept where it was decrypted: no copy of its own.
                            guard reply.payload.readableBytes == Int(chunk.length) else {
                                throw NodeError(.protocolViolation, "a chunk of \(reply.payload.readableBytes) bytes arrived for one of \(chunk.length)")
                            }
                            try reply.payload.withUnsafeReadableBytes(accept)
                        }
                        queue.delivered(chunk.hash, by: peer)
                        counters.update {
                            $0.chunksReceived += 1
                            $0.chunkBytesReceived += UInt64(chunk.length)
                            $0.chunkPayloadBytesReceived += UInt64(reply.payload.readableBytes)
                            if isDelta { $0.chunkDeltasReceived += 1 }
                        }
                    }
                    try await sendMore()
                    if requests.isEmpty { return }
                    for try await message in inbound {
                        activity.touch()
                        switch message {
                        case .chunk(let requestID, let index, let flags, let payload):
                            try receive(requestID: requestID, ChunkReply(index: index, flags: flags, payload: payload))
                        case .chunks(let requestID, let replies):
                            for reply in replies { try receive(requestID: requestID, reply) }
                        case .replyEnd(let requestID):
                            guard requests.removeValue(forKey: requestID) != nil else { throw NodeError(.protocolViolation, "the peer ended a request nobody made") }
                            try await sendMore()
                            if requests.isEmpty { return }
                        case .error(_, _, let text):
                            throw NodeError(.protocolViolation, "the peer refused: \(text)")
                        default:
                            throw NodeError(.protocolViolation, "the peer answered a chunk request with something else")
                        }
                    }
                    if !requests.isEmpty { throw NodeError(.unreachable, "the peer closed the connection mid-transfer") }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The chunk's bytes from its payload, exactly `chunk.length` of them.
    static func open(_ payload: ByteBuffer, compressed: Bool, as chunk: ChunkReference) throws(NodeError) -> [UInt8] {
        let length = Int(chunk.length)
        guard compressed else {
            guard payload.readableBytes == length else { throw NodeError(.protocolViolation, "a chunk of \(payload.readableBytes) bytes arrived for one of \(length)") }
            return Array(payload.readableBytesView)
        }
        guard let chunk = payload.withUnsafeReadableBytes({ BlockCompressor.decompress($0, exactLength: length) }) else {
            throw NodeError(.protocolViolation, "a chunk does not decompress to its \(length) bytes")
        }
        return chunk
    }
}
