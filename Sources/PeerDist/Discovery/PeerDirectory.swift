import Foundation
import PeerDistHashing
import PeerDistWire
import Synchronization

/// The nodes this node has heard announce themselves on the LAN, for `peerdist peers`.
///
/// Nodes say Hello when they start and again every `LANDiscovery.helloInterval`, and Bye when
/// they stop; one that was killed says nothing more, so an entry not heard from for `lifetime`
/// (three Hellos missed) is forgotten.
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

    private let entries = PThreadMutex<[PeerKey: Entry]>([:])
    /// Bounds on what is remembered: anyone can make identities and sign Hellos with them, so a
    /// flood of strangers must not grow the directory without end. Beyond `maximumEntries` the
    /// node heard from longest ago is forgotten; beyond `maximumAddresses` an entry's oldest address.
    let maximumEntries: Int
    let maximumAddresses: Int
    /// How long a node is remembered after its last Hello.
    let lifetime: TimeInterval
    static let defaultLifetime = 3 * LANDiscovery.helloInterval

    public convenience init() {
        self.init(maximumEntries: 1024, maximumAddresses: 16)
    }

    init(maximumEntries: Int, maximumAddresses: Int, lifetime: TimeInterval = defaultLifetime) {
        self.maximumEntries = max(1, maximumEntries)
        self.maximumAddresses = max(1, maximumAddresses)
        self.lifetime = lifetime
    }

    /// Forgets the nodes not heard from within `lifetime` of `now`.
    private func forgetSilent(_ entries: inout [PeerKey: Entry], now: Date) {
        let cutoff = now.addingTimeInterval(-lifetime)
        if entries.values.contains(where: { $0.lastSeen < cutoff }) { entries = entries.filter { $0.value.lastSeen >= cutoff } }
    }

    /// Records a Hello; `true` when the node was not known before (or had been forgotten).
    @discardableResult
    func heard(_ identity: PeerKey, name: String, address: String, at now: Date = .now) -> Bool {
        entries.withLock { entries in
            forgetSilent(&entries, now: now)
            let isNew = entries[identity] == nil
            if isNew, entries.count >= maximumEntries, let oldest = entries.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key {
                entries[oldest] = nil
            }
            var entry = entries[identity] ?? Entry(fingerprint: identity.fingerprint, name: name, addresses: [], lastSeen: now)
            entry.name = name
            entry.lastSeen = now
            if let known = entry.addresses.firstIndex(of: address) { entry.addresses.remove(at: known) }
            entry.addresses.append(address)
            if entry.addresses.count > maximumAddresses { entry.addresses.removeFirst(entry.addresses.count - maximumAddresses) }
            entries[identity] = entry
            return isNew
        }
    }

    func left(_ identity: PeerKey) {
        entries.withLock { _ = $0.removeValue(forKey: identity) }
    }

    /// Where the node with this identity said it accepts peers, newest last.
    func addresses(of identity: PeerKey, at now: Date = .now) -> [String] {
        entries.withLock { entries in
            forgetSilent(&entries, now: now)
            return entries[identity]?.addresses ?? []
        }
    }

    func key(withFingerprint fingerprint: String, at now: Date = .now) -> PeerKey? {
        entries.withLock { entries in
            forgetSilent(&entries, now: now)
            return entries.keys.first { $0.fingerprint == fingerprint }
        }
    }

    public var all: [Entry] { entries(at: .now) }

    func entries(at now: Date) -> [Entry] {
        entries.withLock { entries in
            forgetSilent(&entries, now: now)
            return Array(entries.values)
        }.sorted { $0.fingerprint < $1.fingerprint }
    }
}
