import Foundation
import PeerDist
import PeerDistCollaboration
import PeerDistDHT

/// What the status page shows, as `/status.json` serves it: the node's `status` (identity,
/// listening addresses, store, transfers, counters) with the peers heard on the LAN, the mirrors,
/// the presence of the people watched, the names this node registered and its DHT node.
public struct StatusSnapshot: Encodable, Sendable {
    public var name: String
    public var status: NodeStatus
    public var peers: [PeerDirectory.Entry]
    public var mirrors: [MirrorStatus]
    public var presence: [PresenceListing]
    public var quotaBytes: UInt64?
    public var names: [DHTReply.Name]
    /// `nil` for a node that is not on the DHT.
    public var dht: DHTState?

    /// The Mainline DHT node of a node started with `--global`.
    public struct DHTState: Encodable, Sendable {
        public var nodeID: String
        public var port: Int?
        public var ipv4Nodes: Int
        public var ipv6Nodes: Int

        init(_ dht: DHTNode) {
            nodeID = dht.nodeID.hex
            port = dht.boundPort
            (ipv4Nodes, ipv6Nodes) = dht.routingTableSize
        }

        enum CodingKeys: String, CodingKey {
            case port
            case nodeID = "node_id"
            case ipv4Nodes = "ipv4_nodes"
            case ipv6Nodes = "ipv6_nodes"
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, status, peers, mirrors, presence, names, dht
        case quotaBytes = "quota_bytes"
    }

    /// Reads `node` now.
    public static func read(_ node: PeerNode) async -> StatusSnapshot {
        // Presence is a convenience here: a failure to list it leaves the list empty.
        let presence = (try? await node.people(.presence))?.presence ?? []
        return StatusSnapshot(
            name: node.collaboration.me.displayName, status: node.status(), peers: node.peerDirectory.all,
            mirrors: node.mirrors.statuses(), presence: presence, quotaBytes: node.store.quotaBytes,
            names: node.registeredNames(), dht: node.dht.map(DHTState.init))
    }

    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array(#"{"error":"the status could not be encoded"}"#.utf8)
    }
}
