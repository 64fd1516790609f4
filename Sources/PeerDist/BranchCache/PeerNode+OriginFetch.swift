import Foundation
import NIOCore
import NIOHTTP1
import PeerDistBranchCache
import PeerDistHashing
import PeerDistStore

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
}

/// `http://HOST[:PORT]/PATH`: where the origin is and what to ask it for.
public struct OriginURL: Hashable, Sendable {
    public var address: PeerAddress
    /// The path and query, as sent (percent-encoded).
    public var path: String

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
    /// Blocks asked of the origin in one Range request at most, when no peer has them.
    static let originBlocksPerRequest = 64

    /// Fetches `url` the BranchCache way: asks the origin for Content Information (MS-PCCRTP),
    /// draws the blocks from PeerDist and BranchCache peers on the LAN, asks the origin only for
    /// what none of them has (Range requests marked `MissingDataRequest=true`), verifies every
    /// block, keeps the content in the store (so this node serves it afterwards) and places it at
    /// `output`. An origin that declines sends the file, which is written as it is.
    ///
    /// With `hostedCache`, the branch's hosted cache (MS-PCHC) is asked for blocks too, as
    /// BranchCache clients in hosted-cache mode ask it before the origin.
    public func fetch(
        url: OriginURL, output: String, replace: Bool, hostedCache: PeerAddress? = nil, progress: @escaping @Sendable (FetchProgress) -> Void
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
        announcements.announce(id.discoveryKey)
        progress(FetchProgress(heldBytes: download.heldBytes, totalBytes: download.totalBytes, receivedBytes: 0, peer: nil))

        // Peers first: the holders the data directory names and the LAN answers for, PeerDist
        // and BranchCache alike.
        var peers = (try? configuration.dataDirectory.staticPeers()) ?? []
        for holder in (try? await LANDiscovery.findHolders(of: id.discoveryKey, logger: logger)) ?? [] where !peers.contains(holder) {
            peers.append(holder)
        }
        var fetcher = Fetcher(identity: identity, peers: peers, counters: counters, logger: logger)
        fetcher.discoverBranchCache = branchCacheDiscovery(for: id)
        if let hostedCache { fetcher.branchCachePeers = [hostedCache] }
        do {
            try await fetcher.fetchBlocks(of: information, contentID: id, into: download, discover: nil, progress: progress)
        } catch let error as NodeError where error.code == .notFound {
            logger.debug("peers lack blocks; asking the origin", metadata: ["reason": "\(error)"])
        } catch {
            try? download.flush()
            throw error
        }
        let fromPeers = counters.snapshot.blockBytesReceived - peersBefore

        // The rest from the origin, contiguous missing blocks in one request.
        var fromOrigin: UInt64 = 0
        do {
            try await OriginConnection.withConnection(host: origin.host, port: origin.port) { connection in
                for (index, segment) in information.segments.enumerated() {
                    var block = 0
                    while block < segment.blockCount {
                        guard !download.isHeld(segment: index, block: block) else {
                            block += 1
                            continue
                        }
                        var end = block + 1
                        while end < segment.blockCount, end - block < Self.originBlocksPerRequest, !download.isHeld(segment: index, block: end) { end += 1 }
                        let range = segment.blockRange(block).lowerBound..<segment.blockRange(end - 1).upperBound
                        let bytes = try await connection.missingData(url.path, range: range)
                        guard bytes.count == range.count else {
                            throw NodeError(.protocolViolation, "the origin sent \(bytes.count) bytes for a range of \(range.count)")
                        }
                        for number in block..<end {
                            let blockRange = segment.blockRange(number)
                            let start = Int(blockRange.lowerBound - range.lowerBound)
                            try download.write(segment: index, block: number, bytes: Array(bytes[start..<(start + blockRange.count)]))
                        }
                        fromOrigin += UInt64(bytes.count)
                        progress(FetchProgress(heldBytes: download.heldBytes, totalBytes: download.totalBytes, receivedBytes: fromPeers + fromOrigin, peer: origin.description))
                        block = end
                    }
                }
            }
        } catch {
            try? download.flush()
            throw NodeError(.unreachable, "the origin could not supply the blocks no peer had: \(error)")
        }
        _ = try download.finish()
        try store.export(contentID: id, to: output, replacing: replace)
        return OriginFetchResult(
            path: output, size: download.totalBytes, fromPeers: fromPeers, fromOrigin: fromOrigin, peerDist: true,
            rejectedBlocks: counters.snapshot.blocksRejected - rejectedBefore)
    }

    private static func isPeerDist(_ head: HTTPResponseHead) -> Bool {
        head.status == .ok && head.headers["content-encoding"].contains { $0.lowercased().contains("peerdist") }
    }
}
