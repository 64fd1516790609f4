import Foundation
import Synchronization
import PeerDistWire

/// The nodes this node has heard announce themselves on the LAN, for `peerdist peers`.
public final class PeerDirectory: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var name: String
        /// Where it accepts peers, `[address%interface]:port`.
        public var addresses: [String]
        public var lastSeen: Date

        enum CodingKeys: String, CodingKey {
            case fingerprint, name, addresses
            case lastSeen = "last_seen"
        }
    }

    private let entries = Mutex<[PeerKey: Entry]>([:])

    public init() {}

    /// Records a Hello; `true` when the node was not known before.
    @discardableResult
    func heard(_ identity: PeerKey, name: String, address: String) -> Bool {
        entries.withLock { entries in
            let isNew = entries[identity] == nil
            var entry = entries[identity] ?? Entry(fingerprint: identity.fingerprint, name: name, addresses: [], lastSeen: .now)
            entry.name = name
            entry.lastSeen = .now
            if !entry.addresses.contains(address) { entry.addresses.append(address) }
            entries[identity] = entry
            return isNew
        }
    }

    func left(_ identity: PeerKey) {
        entries.withLock { _ = $0.removeValue(forKey: identity) }
    }

    public var all: [Entry] {
        entries.withLock { Array($0.values) }.sorted { $0.fingerprint < $1.fingerprint }
    }
}
