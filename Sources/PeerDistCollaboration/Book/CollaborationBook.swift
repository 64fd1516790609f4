import Foundation
import PeerDistHashing
import PeerDistStore
import PeerDistWire
import Synchronization

/// The person-facing state a node keeps in its data directory: my details, my contacts and what
/// each may do, my settings, my published objects, and who may read what I share privately.
///
/// It is one JSON file (`people.json`) replaced atomically (written aside, synced, renamed) on
/// every change: a few hundred records at most, changed by a person's hand, so a whole rewrite
/// costs nothing, a `kill -9` leaves the old or the new file and never a mix, and the owner can
/// read it. A database would add a dependency and a format for no gain at this size.
public final class CollaborationBook: Sendable {
    public static let fileName = "people.json"

    struct State: Codable {
        var me: PersonDetails?
        var settings = CollaborationSettings()
        var contacts: [Contact] = []
        var objects: [PublishedObject] = []
        /// Content ID (hex) → the hex keys that may read it.
        var privateContent: [String: [String]] = [:]
        /// Mirror discovery key (hex) → the hex keys that may follow it.
        var privateMirrors: [String: [String]] = [:]

        enum CodingKeys: String, CodingKey {
            case me, settings, contacts, objects
            case privateContent = "private_content"
            case privateMirrors = "private_mirrors"
        }

        init() {}

        /// A section missing from the file (written by hand, or before it existed) is empty.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            me = try container.decodeIfPresent(PersonDetails.self, forKey: .me)
            settings = try container.decodeIfPresent(CollaborationSettings.self, forKey: .settings) ?? CollaborationSettings()
            contacts = try container.decodeIfPresent([Contact].self, forKey: .contacts) ?? []
            objects = try container.decodeIfPresent([PublishedObject].self, forKey: .objects) ?? []
            privateContent = try container.decodeIfPresent([String: [String]].self, forKey: .privateContent) ?? [:]
            privateMirrors = try container.decodeIfPresent([String: [String]].self, forKey: .privateMirrors) ?? [:]
        }
    }

    public let path: String
    private let state: PThreadMutex<State>

    /// Opens the book in `directory`, or an empty one where there is none yet.
    public init(directory: String) throws(CollaborationError) {
        path = "\(directory)/\(Self.fileName)"
        guard FileManager.default.fileExists(atPath: path) else {
            state = PThreadMutex(State())
            return
        }
        // One that exists but cannot be read is not an empty book: saving one would replace it.
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CollaborationError(.io, "\(path) exists but cannot be read; check its permissions, or move it aside to start an empty book")
        }
        do {
            state = PThreadMutex(try JSONDecoder.book.decode(State.self, from: data))
        } catch {
            throw CollaborationError(.io, "\(path) cannot be read: \(Self.describe(error)); move it aside to start an empty book")
        }
    }

    /// Applies `change` and saves; when saving fails the change is undone and the error thrown.
    @discardableResult
    private func change<Result>(_ change: (inout State) throws(CollaborationError) -> Result) throws(CollaborationError) -> Result {
        try state.withLock { (state: inout State) throws(CollaborationError) -> Result in
            var updated = state
            let result = try change(&updated)
            let bytes: [UInt8]
            do {
                bytes = Array(try JSONEncoder.book.encode(updated))
            } catch {
                throw CollaborationError(.io, "cannot encode the book: \(error)")
            }
            do {
                try AtomicFile.write(bytes, to: path)
            } catch {
                throw CollaborationError(.io, "cannot save \(path): \(error)")
            }
            state = updated
            return result
        }
    }

    // MARK: Me

    /// My details; until set, the host's name stands for the display name.
    public var me: PersonDetails {
        state.withLock { $0.me } ?? (try? PersonDetails(displayName: String(ProcessInfo.processInfo.hostName.prefix(PersonDetails.maximumCharacters))))
            ?? (try! PersonDetails(displayName: "PeerDist"))  // A literal that passes validation.
    }

    public var hasDetails: Bool { state.withLock { $0.me != nil } }

    public func setMe(_ details: PersonDetails) throws(CollaborationError) {
        try details.validate()
        try change { $0.me = details }
    }

    // MARK: Settings

    public var settings: CollaborationSettings { state.withLock { $0.settings } }

    public func updateSettings(_ update: (inout CollaborationSettings) -> Void) throws(CollaborationError) {
        try change { update(&$0.settings) }
    }

    // MARK: Contacts

    public var contacts: [Contact] { state.withLock { $0.contacts } }

    public func contact(for key: PeerKey) -> Contact? {
        state.withLock { $0.contacts.first { $0.key == key } }
    }

    public func resolve(_ query: String) throws(CollaborationError) -> Contact {
        try contacts.resolve(query)
    }

    /// Adds the card's person, or replaces the card of a contact with the same key (keeping
    /// what they may do). Returns the contact and whether it is new.
    @discardableResult
    public func add(_ card: ContactCard) throws(CollaborationError) -> (contact: Contact, isNew: Bool) {
        try change { (state: inout State) throws(CollaborationError) in
            if let index = state.contacts.firstIndex(where: { $0.key == card.key }) {
                state.contacts[index].card = card
                return (state.contacts[index], false)
            }
            let contact = Contact(card: card)
            state.contacts.append(contact)
            return (contact, true)
        }
    }

    @discardableResult
    public func removeContact(_ query: String) throws(CollaborationError) -> Contact {
        try change { (state: inout State) throws(CollaborationError) in
            let contact = try state.contacts.resolve(query)
            state.contacts.removeAll { $0.key == contact.key }
            return contact
        }
    }

    @discardableResult
    public func updateContact(_ query: String, _ update: (inout Contact) -> Void) throws(CollaborationError) -> Contact {
        try change { (state: inout State) throws(CollaborationError) in
            let contact = try state.contacts.resolve(query)
            guard let index = state.contacts.firstIndex(where: { $0.key == contact.key }) else { return contact }
            update(&state.contacts[index])
            return state.contacts[index]
        }
    }

    // MARK: Objects

    public var objects: [PublishedObject] { state.withLock { $0.objects } }

    /// Publishes or replaces the object named `object.name`; the 129th is refused.
    public func setObject(_ object: PublishedObject) throws(CollaborationError) {
        try change { (state: inout State) throws(CollaborationError) in
            if let index = state.objects.firstIndex(where: { $0.name == object.name }) {
                state.objects[index] = object
            } else {
                guard state.objects.count < PublishedObject.maximumCount else {
                    throw CollaborationError(.invalidValue, "\(PublishedObject.maximumCount) objects are published already, the most there can be; remove one first")
                }
                state.objects.append(object)
            }
        }
    }

    public func removeObject(named name: String) throws(CollaborationError) {
        try change { (state: inout State) throws(CollaborationError) in
            guard state.objects.contains(where: { $0.name == name }) else {
                throw CollaborationError(.notFound, "no object is named \(name) (see `peerdist objects ls`)")
            }
            state.objects.removeAll { $0.name == name }
        }
    }

    // MARK: Private sharing

    /// Who may read the content with this ID (hex); `nil` when it is not private.
    public func audience(ofContent id: String) -> Set<PeerKey>? {
        state.withLock { $0.privateContent[id] }.map { Set($0.compactMap(Self.key(hex:))) }
    }

    public func audience(ofMirror discoveryKey: String) -> Set<PeerKey>? {
        state.withLock { $0.privateMirrors[discoveryKey] }.map { Set($0.compactMap(Self.key(hex:))) }
    }

    /// Makes content private to `keys` (adding to whoever could read it already); `nil` makes it public.
    public func restrict(content id: String, to keys: Set<PeerKey>?) throws(CollaborationError) {
        try change { (state: inout State) throws(CollaborationError) in
            if let keys { state.privateContent[id] = Set((state.privateContent[id] ?? []) + keys.map(Self.hex)).sorted() } else { state.privateContent[id] = nil }
        }
    }

    public func restrict(mirror discoveryKey: String, to keys: Set<PeerKey>?) throws(CollaborationError) {
        try change { (state: inout State) throws(CollaborationError) in
            if let keys { state.privateMirrors[discoveryKey] = Set((state.privateMirrors[discoveryKey] ?? []) + keys.map(Self.hex)).sorted() } else { state.privateMirrors[discoveryKey] = nil }
        }
    }

    static func hex(_ key: PeerKey) -> String { key.bytes.map { String(format: "%02x", $0) }.joined() }

    static func key(hex: String) -> PeerKey? {
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return PeerKey(bytes)
    }

    private static func describe(_ error: any Error) -> String {
        guard let failure = error as? DecodingError else { return "\(error)" }
        switch failure {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            return context.codingPath.map(\.stringValue).joined(separator: ".") + ": " + context.debugDescription
        case .keyNotFound(let key, let context):
            return (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".") + " is missing"
        @unknown default:
            return "\(error)"
        }
    }
}

extension JSONEncoder {
    fileprivate static var book: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.dataEncodingStrategy = .base64
        return encoder
    }
}

extension JSONDecoder {
    fileprivate static var book: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
