import Foundation
import PeerDistCollaboration
import PeerDistHashing
import PeerDistWire
import Synchronization

/// The people heard announcing themselves on the LAN with People Near Me on, and the
/// announcements this node sends while its owner has it on.
///
/// Announcements ride LAN discovery's multicast socket (`DiscoveryMessage.nearMe`). Each is
/// checked before it counts: signed by the key it names, made within five minutes of this
/// node's clock, and newer than the last accepted from that key; so a forged one and a replayed
/// one are both dropped. A person not heard for `NearMeAnnouncement.lifetime` is forgotten.
public final class PeopleNearMe: Sendable {
    /// One person as `peerdist near` lists them.
    public struct Person: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var displayName: String
        public var nickname: String
        public var status: PresenceStatus
        /// Where their node accepts peers, `[address%interface]:port`.
        public var addresses: [String]
        public var isContact: Bool
        /// Another person near me uses the same display name: tell them apart by fingerprint.
        public var sharesName: Bool
        public var lastHeard: Date

        enum CodingKeys: String, CodingKey {
            case fingerprint, nickname, status, addresses
            case displayName = "display_name"
            case isContact = "contact"
            case sharesName = "shares_name"
            case lastHeard = "last_heard"
        }
    }

    struct Heard {
        var announcement: NearMeAnnouncement
        var addresses: [String]
        var lastHeard: ContinuousClock.Instant
        var date: Date
    }

    static let maximumPeople = 1024

    private let people = PThreadMutex<[PeerKey: Heard]>([:])
    private let sequences = PThreadMutex(SequenceWindow(capacity: 4096))
    /// Announcements to send, as datagram payloads; LAN discovery sends them on every interface.
    let outgoing: AsyncStream<[UInt8]>
    private let outgoingContinuation: AsyncStream<[UInt8]>.Continuation
    /// Called with each person who arrives or leaves.
    let changes = Broadcast<(key: PeerKey, heard: Heard?, isNew: Bool)>()
    /// Announcements refused, by reason: for tests and the log.
    private let refusals = PThreadMutex<[String: Int]>([:])

    init() {
        (outgoing, outgoingContinuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(8))
    }

    func send(_ announcement: NearMeAnnouncement) {
        outgoingContinuation.yield(announcement.encoded())
    }

    /// Takes an announcement heard from `host` (`address%interface`). Returns whether the person
    /// is new here, so that this node can answer with its own announcement at once.
    @discardableResult
    func heard(_ bytes: [UInt8], from host: String, own: PeerKey) -> Bool {
        let announcement: NearMeAnnouncement
        do {
            announcement = try NearMeAnnouncement(decoding: bytes)
            guard announcement.key != own else { return false }
            guard announcement.isFresh() else { throw CollaborationError(.expired, "stale") }
            try sequences.withLock { (window: inout SequenceWindow) throws(CollaborationError) in try window.accept(announcement.sequence, from: announcement.key) }
        } catch {
            let reason = (error as? CollaborationError).map { "\($0.code)" } ?? "malformed"
            refusals.withLock { $0[reason, default: 0] += 1 }
            return false
        }
        let address = host.contains(":") ? "[\(host)]:\(announcement.port)" : "\(host):\(announcement.port)"
        if announcement.leaving {
            if people.withLock({ $0.removeValue(forKey: announcement.key) }) != nil { changes.yield((announcement.key, nil, false)) }
            return false
        }
        let (isNew, heard) = people.withLock { people in
            let isNew = people[announcement.key] == nil
            if isNew, people.count >= Self.maximumPeople, let oldest = people.min(by: { $0.value.lastHeard < $1.value.lastHeard })?.key {
                people[oldest] = nil
            }
            var entry = people[announcement.key] ?? Heard(announcement: announcement, addresses: [], lastHeard: .now, date: Date())
            let changed = entry.announcement.status != announcement.status || entry.announcement.displayName != announcement.displayName
                || entry.announcement.nickname != announcement.nickname || !entry.addresses.contains(address)
            entry.announcement = announcement
            entry.lastHeard = .now
            entry.date = Date()
            if !entry.addresses.contains(address) { entry.addresses = Array((entry.addresses + [address]).suffix(8)) }
            people[announcement.key] = entry
            return (isNew, isNew || changed ? entry : nil)
        }
        if let heard { changes.yield((announcement.key, heard, isNew)) }
        return isNew
    }

    /// Forgets people not heard for `NearMeAnnouncement.lifetime`.
    func expire(now: ContinuousClock.Instant = .now) {
        let gone = people.withLock { people in
            let gone = people.filter { now - $0.value.lastHeard > NearMeAnnouncement.lifetime }.map(\.key)
            for key in gone { people[key] = nil }
            return gone
        }
        for key in gone { changes.yield((key, nil, false)) }
    }

    func forgetAll() {
        let gone = people.withLock { people in
            defer { people = [:] }
            return Array(people.keys)
        }
        for key in gone { changes.yield((key, nil, false)) }
    }

    func announcement(of key: PeerKey) -> NearMeAnnouncement? { people.withLock { $0[key]?.announcement } }
    func addresses(of key: PeerKey) -> [String] { people.withLock { $0[key]?.addresses ?? [] } }
    func key(withFingerprint fingerprint: String) -> PeerKey? { people.withLock { $0.keys.first { $0.fingerprint == fingerprint } } }
    var refusalCounts: [String: Int] { refusals.withLock { $0 } }

    /// Everyone near me, names shared by two or more marked.
    func list(isContact: (PeerKey) -> Bool) -> [Person] {
        let heard = people.withLock { $0 }
        var nameCounts: [String: Int] = [:]
        for entry in heard.values { nameCounts[entry.announcement.displayName.lowercased(), default: 0] += 1 }
        return heard.map { key, entry in
            Person(
                fingerprint: key.fingerprint, displayName: entry.announcement.displayName, nickname: entry.announcement.nickname,
                status: entry.announcement.status, addresses: entry.addresses, isContact: isContact(key),
                sharesName: (nameCounts[entry.announcement.displayName.lowercased()] ?? 0) > 1, lastHeard: entry.date)
        }.sorted { ($0.displayName.lowercased(), $0.fingerprint) < ($1.displayName.lowercased(), $1.fingerprint) }
    }
}

extension Collaboration {
    /// Tells `peerdist events` of each person who arrives near me, changes or leaves.
    func relayNearMeChanges() async {
        for await (key, heard, isNew) in nearMe.changes.subscribe(bufferingNewest: 256) {
            var event = CollaborationEvent(.nearMe, fingerprint: key.fingerprint, name: heard?.announcement.displayName ?? displayName(of: key))
            event.change = heard == nil ? "left" : isNew ? "arrived" : "changed"
            event.status = heard?.announcement.status
            emit(event)
        }
    }

    /// While People Near Me is on, announces me at start and every `refreshInterval`; forgets
    /// people not heard for their lifetime.
    func runNearMe() async {
        var lastAnnouncement = ContinuousClock.now - NearMeAnnouncement.refreshInterval
        while !Task.isCancelled {
            if book.settings.nearMe, ContinuousClock.now - lastAnnouncement >= NearMeAnnouncement.refreshInterval {
                announceNearMe()
                lastAnnouncement = .now
            }
            nearMe.expire()
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
