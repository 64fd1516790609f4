import Foundation
import PeerDistHashing
import Synchronization

/// The names this node registered (`peerdist names register`): they last while the node runs.
/// A registration without endpoints of its own follows the node's current addresses.
final class NameRegistry: Sendable {
    enum Scope: String, Codable, Sendable {
        case link, global, all

        var isGlobal: Bool { self != .link }
        var isLink: Bool { self != .global }
    }

    struct Registration: Sendable {
        var name: PeerName
        /// Given by the user; `nil` follows the node's addresses.
        var fixedEndpoints: [PeerAddress]?
        var payload: [UInt8]
        var comment: String
        var scope: Scope
        /// What was last put on the DHT, and when.
        var published: NameRecord?
        var publishedAt: ContinuousClock.Instant?
        var sequence: Int64 = 0
    }

    private let registrations = PThreadMutex<[PeerName: Registration]>([:])

    func register(_ registration: Registration) {
        registrations.withLock { $0[registration.name] = registration }
    }

    @discardableResult
    func unregister(_ name: PeerName) -> Registration? {
        registrations.withLock { $0.removeValue(forKey: name) }
    }

    var all: [Registration] {
        registrations.withLock { Array($0.values) }.sorted { $0.name.description < $1.name.description }
    }

    /// The registration a link query for `linkKey` asks for, if it is registered on the link.
    func linkRegistration(for linkKey: HashValue) -> Registration? {
        registrations.withLock { $0.values.first { $0.scope.isLink && $0.name.linkKey == linkKey } }
    }

    func registration(_ name: PeerName) -> Registration? {
        registrations.withLock { $0[name] }
    }

    func markPublished(_ name: PeerName, record: NameRecord, sequence: Int64, at instant: ContinuousClock.Instant) {
        registrations.withLock {
            $0[name]?.published = record
            $0[name]?.publishedAt = instant
            $0[name]?.sequence = sequence
        }
    }
}
