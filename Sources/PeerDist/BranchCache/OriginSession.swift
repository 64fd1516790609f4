import Logging
import NIOCore
import PeerDistBranchCache
import PeerDistHashing
import PeerDistStore

/// A BranchCache origin (MS-PCCRTP web server) as one source of a fetch, beside the peers.
///
/// The origin holds every block but sits behind the branch's slow link, so it is the source of
/// last resort: the `SwarmScheduler` gives it only blocks no peer advertises (and nothing while a
/// peer's availability is unknown), and never endgame copies. It is asked with Range requests
/// marked `MissingDataRequest=true`, a run of consecutive blocks each, on a few keep-alive
/// connections; every block is verified against the Content Information before it is kept.
public struct OriginSource: Sendable {
    public var address: PeerAddress
    /// The path and query of the content, as the Content Information was asked for.
    public var path: String
    /// Called with the bytes of each verified block the origin sent.
    public var delivered: @Sendable (UInt64) -> Void

    public init(address: PeerAddress, path: String, delivered: @escaping @Sendable (UInt64) -> Void) {
        self.address = address
        self.path = path
        self.delivered = delivered
    }
}

struct OriginSession: Sendable {
    let origin: OriginSource
    let segments: [SegmentDescription]
    let scheduler: SwarmScheduler
    let target: any DownloadTarget
    let logger: Logger
    var stallTimeout: Duration
    /// Blocks in one range request at most (256 KiB of 64 KiB blocks). Fetchers drawing on one
    /// origin at once cannot see each other's requests to it, only the blocks they hold, so what
    /// each has in flight is what they may ask twice: it is kept small.
    var blocksPerRequest = 4
    /// Connections to the origin at once: one, for the same reason; the link idles a round trip
    /// between requests.
    var connections = 1
    /// How long a connection that failed is given before it is made again, and how many
    /// failures in a row end the session (the origin is gone; peers may still finish the fetch).
    var reconnectDelay: Duration = .milliseconds(500)
    var attempts = 3
    /// The fetch's `--max-download`, shared with its peers' sessions.
    var downloadLimit: RateLimiter?
    var received: @Sendable (UInt64) -> Void

    private var key: PeerAddress { origin.address }

    func run() async throws {
        scheduler.joinLastResort(key) {}
        defer { scheduler.leave(key) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<connections {
                group.addTask { try await work() }
            }
            while try await group.next() != nil {}
        }
    }

    /// One connection's loop. The connection is made when there is work for the origin and
    /// closed when there is none (peers may supply everything for minutes, longer than any idle
    /// timeout); one that fails is made again, up to `attempts` failures in a row.
    private func work() async throws {
        var failures = 0
        let timeout = TimeAmount.seconds(max(1, stallTimeout.components.seconds))
        while !scheduler.isComplete {
            var pending = scheduler.take(for: key, budget: blocksPerRequest)
            guard !pending.isEmpty else {
                // Peers have (or may have) everything still missing: wait for them.
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                try await OriginConnection.withConnection(host: key.host, port: key.port, idleTimeout: timeout) { connection in
                    while !pending.isEmpty {
                        for request in pending { try await fetch(request, over: &connection) }
                        failures = 0
                        pending = scheduler.isComplete ? [] : scheduler.take(for: key, budget: blocksPerRequest)
                    }
                }
            } catch let failure as LocalFailure {
                throw failure
            } catch {
                // What was taken and not delivered goes back to the others.
                for request in pending { scheduler.returned(segment: request.segment, blocks: request.blocks, by: key) }
                if error is CancellationError || Task.isCancelled { throw error }
                failures += 1
                guard failures < attempts else { throw error }
                logger.info("connecting to the origin again", metadata: ["origin": "\(key)", "error": "\(error)"])
                try await Task.sleep(for: reconnectDelay)
            }
        }
    }

    /// One range request for a run of blocks; the run goes back to the scheduler if it fails.
    private func fetch(_ request: SwarmScheduler.Request, over connection: inout OriginConnection) async throws {
        let segment = segments[request.segment]
        guard let first = request.blocks.first, let last = request.blocks.last else { return }
        let range = segment.blockRange(first).lowerBound..<segment.blockRange(last).upperBound
        let bytes: [UInt8]
        do {
            bytes = try await connection.missingData(origin.path, range: range)
            guard bytes.count == range.count else {
                throw NodeError(.protocolViolation, "the origin sent \(bytes.count) bytes for a range of \(range.count)")
            }
        } catch {
            scheduler.returned(segment: request.segment, blocks: request.blocks, by: key)
            throw error
        }
        for (position, block) in request.blocks.enumerated() {
            guard scheduler.isMissing(segment: request.segment, block: block) else {
                scheduler.returned(segment: request.segment, blocks: [block], by: key)
                continue
            }
            let blockRange = segment.blockRange(block)
            let start = Int(blockRange.lowerBound - range.lowerBound)
            do {
                try bytes.withUnsafeBytes {
                    try target.write(segment: request.segment, block: block, bytes: UnsafeRawBufferPointer(rebasing: $0[start..<(start + blockRange.count)]))
                }
            } catch let error as StoreError where error.code != .corruptBlock {
                throw LocalFailure(error: error)
            } catch {
                // The origin's file no longer matches the Content Information it handed out.
                scheduler.returned(segment: request.segment, blocks: Array(request.blocks[position...]), by: key)
                throw NodeError(.verificationFailed, "the origin sent a block that fails verification (segment \(request.segment), block \(block)): its file changed")
            }
            scheduler.delivered(segment: request.segment, block: block, by: key)
            origin.delivered(UInt64(blockRange.count))
            received(UInt64(blockRange.count))
        }
        if let downloadLimit { try await downloadLimit.wait(for: bytes.count) }
    }
}
