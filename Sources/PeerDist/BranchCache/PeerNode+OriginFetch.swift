import Foundation
import NIOCore
import NIOHTTP1
import PeerDistBranchCache
import PeerDistHashing
import PeerDistStore
import Synchronization

/// What `fetch http://…` did: where the content went, and where its bytes came from.
public struct OriginFetchResult: Sendable {
    public var path: String
    public var size: UInt64
    /// Verified block bytes from PeerDist and BranchCache peers.
    public var fromPeers: UInt64
    /// Bytes from the origin: the blocks no peer had, or the whole file when it declined.
    public var fromOrigin: UInt64
    /// Whether the origin handed out Content Information (false: it sent the file).
    public var peerDist: Bool
    /// Blocks from peers that failed verification (each one's sender banned for the content).
    public var rejectedBlocks: UInt64 = 0

    public init(path: String, size: UInt64, fromPeers: UInt64, fromOrigin: UInt64, peerDist: Bool, rejectedBlocks: UInt64 = 0) {
        self.path = path
        self.size = size
        self.fromPeers = fromPeers
        self.fromOrigin = fromOrigin
        self.peerDist = peerDist
        self.rejectedBlocks = rejectedBlocks
    }
}

/// `http://HOST[:PORT]/PATH`: where the origin is and what to ask it for.
public struct OriginURL: Hashable, Sendable, CustomStringConvertible {
    public var address: PeerAddress
    /// The path and query, as sent (percent-encoded).
    public var path: String

    /// The URL again, as `init?(_:)` reads it.
    public var description: String { "http://\(address)\(path)" }

    init(address: PeerAddress, path: String) {
        self.address = address
        self.path = path
    }

    public init?(_ text: String) {
        guard text.lowercased().hasPrefix("http://") else { return nil }
        let rest = text.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard !authority.isEmpty, !authority.contains("@"), !path.contains(" ") else { return nil }
        let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
        if hasPort {
            guard let address = PeerAddress(parsing: authority) else { return nil }
            self.address = address
        } else {
            let host = authority.hasPrefix("[") && authority.hasSuffix("]") ? String(authority.dropFirst().dropLast()) : authority
            guard !host.isEmpty, !host.contains("["), !host.contains("]") else { return nil }
            address = PeerAddress(host: host, port: 80)
        }
    }
}

extension PeerNode {
    /// Fetches `url` the BranchCache way: asks the origin for Content Information (MS-PCCRTP),
    /// draws the blocks from PeerDist and BranchCache peers on the LAN and, in the same fetch, from
    /// the origin only those no peer has (Range requests marked `MissingDataRequest=true`; see
    /// `OriginSession`), verifies every block, keeps the content in the store (a running node
    /// serves it while it fetches, and afterwards) and places it at `output`. An origin that
    /// declines sends the file, which is written as it is. Once the Content Information is here
    /// the origin may go away: peers that hold the blocks finish the fetch.
    ///
    /// With `hostedCache`, the branch's hosted cache (MS-PCHC) is asked for blocks too, as
    /// BranchCache clients in hosted-cache mode ask it before the origin.
    public func fetch(
        url: OriginURL, output: String, replace: Bool, hostedCache: PeerAddress? = nil, maximumRate: UInt64? = nil, progress: @escaping @Sendable (FetchProgress) -> Void
    ) async throws -> OriginFetchResult {
        if !replace, FileManager.default.fileExists(atPath: output) {
            throw NodeError(.invalidState, "\(output) already exists (remove it, choose another -o, or pass --force)")
        }
        let origin = url.address
        let partial = output + ".peerdist-part"
        let answer = try await OriginConnection.withConnection(host: origin.host, port: origin.port) { connection -> (head: HTTPResponseHead, information: [UInt8], plainBytes: UInt64) in
            var information: [UInt8] = []
            var plainBytes: UInt64 = 0
            var plainFile: FileHandle?
            defer { try? plainFile?.close() }
            let head = try await connection.get(url.path, headers: OriginConnection.peerDistHeaders) { head, part in
                if Self.isPeerDist(head) {
                    guard information.count + part.readableBytes <= OriginConnection.maximumContentInformationBytes else {
                        throw NodeError(.protocolViolation, "the origin's Content Information is larger than \(OriginConnection.maximumContentInformationBytes) bytes")
                    }
                    information.append(contentsOf: part.readableBytesView)
                } else if head.status == .ok {
                    if plainFile == nil {
                        _ = FileManager.default.createFile(atPath: partial, contents: nil)
                        plainFile = FileHandle(forWritingAtPath: partial)
                    }
                    try plainFile?.write(contentsOf: Data(part.readableBytesView))
                    plainBytes += UInt64(part.readableBytes)
                }
            }
            return (head, information, plainBytes)
        }
        guard answer.head.status == .ok else {
            try? FileManager.default.removeItem(atPath: partial)
            throw NodeError(.notFound, "the origin answered HTTP \(answer.head.status.code) for \(url.path)")
        }
        guard Self.isPeerDist(answer.head) else {
            // Declined: the file itself came, as from any web server.
            if !FileManager.default.fileExists(atPath: partial) { _ = FileManager.default.createFile(atPath: partial, contents: nil) }
            if replace { try? FileManager.default.removeItem(atPath: output) }
            try FileManager.default.moveItem(atPath: partial, toPath: output)
            return OriginFetchResult(path: output, size: answer.plainBytes, fromPeers: 0, fromOrigin: answer.plainBytes, peerDist: false)
        }
        let information = try ContentInformation(decoding: answer.information)
        guard let id = ContentID(describing: information) else {
            throw NodeError(.protocolViolation, "the origin's Content Information covers part of the content only")
        }
        let (peersBefore, rejectedBefore) = (counters.snapshot.blockBytesReceived, counters.snapshot.blocksRejected)
        let download = try store.beginDownload(contentID: id, information: information)
        transfers.withLock { $0[id] = (download, nil) }
        defer { transfers.withLock { _ = $0.removeValue(forKey: id) } }
        // Others fetching the same content learn of this node now, and trade blocks with it.
        announcements.announce(id.discoveryKey)
        progress(FetchProgress(heldBytes: download.heldBytes, totalBytes: download.totalBytes, receivedBytes: 0, peer: nil))

        // One fetch from every source at once: PeerDist and BranchCache peers (the holders the
        // data directory names and the LAN answers for, found again as the fetch goes), the
        // hosted cache, and the origin for what none of them has.
        var peers = (try? configuration.dataDirectory.staticPeers()) ?? []
        for holder in await holderLookup.holders(of: id.discoveryKey, askingTheLAN: true) where !peers.contains(holder) {
            peers.append(holder)
        }
        let fromOrigin = OriginTally()
        var fetcher = Fetcher(identity: identity, peers: peers, counters: counters, logger: logger)
        fetcher.discoverBranchCache = branchCacheDiscovery(for: id)
        if let hostedCache { fetcher.branchCachePeers = [hostedCache] }
        fetcher.origin = OriginSource(address: origin, path: url.path) { bytes in fromOrigin.add(bytes) }
        fetcher.maximumRate = maximumRate
        let discover: @Sendable (Bool) async -> [PeerAddress] = { askTheLAN in
            await self.holderLookup.holders(of: id.discoveryKey, askingTheLAN: askTheLAN)
        }
        do {
            try await fetcher.fetchBlocks(of: information, contentID: id, into: download, discover: discover) { update in
                self.transfers.withLock { $0[id]?.peer = update.peer }
                progress(update)
            }
        } catch {
            try? download.flush()
            throw error
        }
        _ = try download.finish()
        try store.export(contentID: id, to: output, replacing: replace)
        return OriginFetchResult(
            path: output, size: download.totalBytes, fromPeers: counters.snapshot.blockBytesReceived - peersBefore, fromOrigin: fromOrigin.bytes,
            peerDist: true, rejectedBlocks: counters.snapshot.blocksRejected - rejectedBefore)
    }

    private static func isPeerDist(_ head: HTTPResponseHead) -> Bool {
        head.status == .ok && head.headers["content-encoding"].contains { $0.lowercased().contains("peerdist") }
    }
}

/// Bytes the origin sent in one fetch.
private final class OriginTally: Sendable {
    private let total = Atomic<UInt64>(0)
    func add(_ bytes: UInt64) { total.wrappingAdd(bytes, ordering: .relaxed) }
    var bytes: UInt64 { total.load(ordering: .relaxed) }
}
