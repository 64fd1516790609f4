import Crypto
import NIOCore
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire
import PeerDistMirror

/// Asks one peer for a mirror's manifest: its newest signed root, sealed for the wire, then the
/// pages of it the follower does not have yet, many requests in flight on one connection.
/// Pages are checked against their hashes here; the root's signature by the caller.
struct MirrorManifestClient: Sendable {
    let identity: NodeIdentity
    let counters: NodeCounters
    /// Called when a holder says the mirror is private, with who may follow it (the holder too).
    var heardAudience: @Sendable (Set<PeerKey>) -> Void = { _ in }
    /// Largest root or page accepted: a page holds entries of at most a few MiB; the cap only
    /// keeps a hostile peer from making us buffer without bound.
    static let maximumSize = 64 << 20
    static let pagesInFlight = 32

    /// The peer's newest root of `name` and the `wanted` pages it returns, through `body` on one
    /// connection; `nil` root when the peer holds no version.
    func withConnection<Result: Sendable>(
        to peer: PeerAddress, _ body: (_ session: Session) async throws -> Result
    ) async throws -> Result {
        let (channel, remote) = try await PeerNetwork.connect(host: peer.host, port: peer.port, identity: identity)
        return try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            let session = Session(
                counters: counters, next: { try await iterator.next() }, write: { try await outbound.write($0) },
                heardAudience: { [heardAudience] in heardAudience($0.union([remote])) })
            return try await body(session)
        }
    }

    struct Session {
        let counters: NodeCounters
        let next: () async throws -> PeerMessage?
        let write: (PeerMessage) async throws -> Void
        let heardAudience: (Set<PeerKey>) -> Void

        /// The root the peer holds for `name`, opened; `nil` when it holds none.
        func root(of name: some ManifestAddress) async throws -> [UInt8]? {
            try await write(.getMirrorRoot(requestID: 0, discoveryKey: name.discoveryKey))
            guard let sealed = try await collect(requests: [0])[0] else { return nil }
            return try SealedManifestRoot.open(sealed, for: name)
        }

        /// What changed in `name` from version `from` to `to`; `nil` when the peer cannot say.
        func diff(of name: MirrorName, from: UInt64, to: UInt64) async throws -> ManifestDiff? {
            try await write(.getMirrorDiff(requestID: 0, discoveryKey: name.discoveryKey, from: from, to: to))
            guard let bytes = try await collect(requests: [0])[0] else { return nil }
            return try ManifestDiff(decoding: bytes)
        }

        /// The pages with these hashes, each checked against its hash.
        func pages(_ hashes: [HashValue], of name: some ManifestAddress) async throws -> [HashValue: [UInt8]] {
            var pages: [HashValue: [UInt8]] = [:]
            for start in stride(from: 0, to: hashes.count, by: MirrorManifestClient.pagesInFlight) {
                let batch = Array(hashes[start..<min(hashes.count, start + MirrorManifestClient.pagesInFlight)])
                let ids = (0..<batch.count).map { UInt32(start + $0 + 1) }
                for (id, hash) in zip(ids, batch) {
                    try await write(.getMirrorPage(requestID: id, discoveryKey: name.discoveryKey, pageHash: hash))
                }
                var collected = try await collect(requests: Set(ids))
                for (id, hash) in zip(ids, batch) {
                    guard let page = collected.removeValue(forKey: id) else {
                        throw NodeError(.notFound, "the peer does not have page \(hash.hex.prefix(16))… of \(name)'s manifest")
                    }
                    guard HashValue(SHA256.hash(data: page)) == hash else {
                        throw NodeError(.verificationFailed, "the peer sent a manifest page that does not match its hash")
                    }
                    pages[hash] = page
                }
            }
            return pages
        }

        /// Reads parts until every request in `requests` is whole; a request the peer answered
        /// with nothing (total 0) is missing from the result.
        private func collect(requests: Set<UInt32>) async throws -> [UInt32: [UInt8]] {
            var open = Dictionary(uniqueKeysWithValues: requests.map { ($0, PartAssembly(of: "manifest", limit: MirrorManifestClient.maximumSize)) })
            var result: [UInt32: [UInt8]] = [:]
            while !open.isEmpty {
                guard let message = try await next() else { throw NodeError(.unreachable, "the peer closed the connection mid-manifest") }
                if case .collaboration(let id, let kind, let payload) = message, open[id] != nil,
                   case .audience(let keys) = try CollaborationMessage(kind: kind, payload: payload) {
                    // A private mirror: its followers keep it to the same people.
                    heardAudience(Set(keys))
                    continue
                }
                guard case .mirrorPart(let id, let total, let offset, let part) = message, var assembly = open[id] else {
                    throw NodeError(.protocolViolation, "the peer answered a manifest request with something else")
                }
                let outcome = try assembly.add(total: total, offset: offset, part: part)
                counters.update { $0.manifestBytesReceived += UInt64(part.count) }
                switch outcome {
                case .partial:
                    open[id] = assembly
                case .notHeld:
                    open[id] = nil
                case .complete(let whole):
                    open[id] = nil
                    result[id] = whole
                }
            }
            return result
        }
    }
}
