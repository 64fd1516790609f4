import Foundation
import PeerDist
import PeerDistCollaboration

/// What the status page shows, as `/status.json` serves it: the node's `status` (identity,
/// listening addresses, store, transfers, counters) with the peers heard on the LAN, the mirrors
/// and the presence of the people watched.
public struct StatusSnapshot: Encodable, Sendable {
    public var name: String
    public var status: NodeStatus
    public var peers: [PeerDirectory.Entry]
    public var mirrors: [MirrorStatus]
    public var presence: [PresenceListing]
    public var quotaBytes: UInt64?

    enum CodingKeys: String, CodingKey {
        case name, status, peers, mirrors, presence
        case quotaBytes = "quota_bytes"
    }

    /// Reads `node` now.
    public static func read(_ node: PeerNode) async -> StatusSnapshot {
        // Presence is a convenience here: a failure to list it leaves the list empty.
        let presence = (try? await node.people(.presence))?.presence ?? []
        return StatusSnapshot(
            name: node.collaboration.me.displayName, status: node.status(), peers: node.peerDirectory.all,
            mirrors: node.mirrors.statuses(), presence: presence, quotaBytes: node.store.quotaBytes)
    }

    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array(#"{"error":"the status could not be encoded"}"#.utf8)
    }
}
