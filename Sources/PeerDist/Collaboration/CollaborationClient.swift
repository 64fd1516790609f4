import Foundation
import NIOCore
import PeerDistCollaboration
import PeerDistWire

/// The asking side of what nodes say about their people: one connection to the person's node,
/// authenticated as their key before anything is sent, so nothing reaches anyone else.
extension Collaboration {
    /// Connects to the node of `key` at the first of its addresses that answers as that key.
    func connect(to key: PeerKey) async throws -> PeerChannel {
        let addresses = addresses(of: key)
        guard !addresses.isEmpty else {
            throw NodeError(.unreachable, "\(displayName(of: key)) (\(key.fingerprint)) is not near: no address is known for their node")
        }
        var failures: [String] = []
        for address in addresses {
            do {
                let (channel, remote) = try await PeerNetwork.connect(host: address.host, port: address.port, identity: identity, timeout: .seconds(3))
                guard remote == key else {
                    try? await channel.executeThenClose { _, _ in }
                    failures.append("\(address): answered as \(remote.fingerprint)")
                    continue
                }
                return channel
            } catch {
                failures.append("\(address): \(error)")
            }
        }
        throw NodeError(.unreachable, "cannot reach \(displayName(of: key)) (\(key.fingerprint)): " + failures.joined(separator: "; "))
    }

    /// Sends one request to `key`'s node and returns the first answer.
    func ask(_ key: PeerKey, _ request: CollaborationMessage) async throws -> CollaborationMessage {
        let channel = try await connect(to: key)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.collaboration(requestID: 1, kind: request.kind, payload: request.payload()))
            for try await message in inbound {
                switch message {
                case .collaboration(1, let kind, let payload):
                    return try CollaborationMessage(kind: kind, payload: payload)
                case .error(_, _, let text):
                    throw NodeError(.protocolViolation, "\(displayName(of: key)) answered: \(text)")
                default:
                    throw NodeError(.protocolViolation, "\(displayName(of: key))'s node answered with something else")
                }
            }
            throw NodeError(.unreachable, "\(displayName(of: key))'s node closed the connection without answering")
        }
    }

    /// The card of the person whose fingerprint this is, fetched from their node (found near me
    /// or on the LAN) and checked to carry the very key the fingerprint names.
    public func fetchCard(fingerprint text: String) async throws -> ContactCard {
        guard let fingerprint = Fingerprint.parse(text) else {
            throw CollaborationError(.invalidValue, "\(text) is not a fingerprint (16 letters and digits, as abcd-efgh-ijkl-mnop)")
        }
        guard let key = key(withFingerprint: fingerprint) else {
            throw NodeError(.notFound, "no one with fingerprint \(fingerprint) is near; ask them for their card (`peerdist me card`)")
        }
        switch try await ask(key, .getCard) {
        case .card(let card):
            guard card.key == key else { throw CollaborationError(.wrongKey, "the card \(fingerprint)'s node sent carries another key (\(card.fingerprint))") }
            return card
        case .refused(let reason):
            throw NodeError(.notFound, "\(fingerprint) does not hand out their card: \(reason)")
        default:
            throw NodeError(.protocolViolation, "\(fingerprint)'s node answered a card request with something else")
        }
    }

    /// The objects `contact` lets me see, as summaries.
    public func objects(of contact: Contact) async throws -> [ObjectSummary] {
        switch try await ask(contact.key, .listObjects) {
        case .objectList(let summaries): return summaries
        case .refused(let reason): throw NodeError(.notFound, "\(contact.displayName) shows no objects to you: \(reason)")
        default: throw NodeError(.protocolViolation, "\(contact.displayName)'s node answered with something else")
        }
    }

    public func object(named name: String, of contact: Contact) async throws -> PublishedObject {
        try PublishedObject.validate(name: name)
        switch try await ask(contact.key, .getObject(name: name)) {
        case .object(let object) where object.name == name: return object
        case .refused: throw NodeError(.notFound, "\(contact.displayName) has no object \(name) you may read")
        default: throw NodeError(.protocolViolation, "\(contact.displayName)'s node answered with something else")
        }
    }
}
