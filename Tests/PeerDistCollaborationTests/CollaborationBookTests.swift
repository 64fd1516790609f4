import Foundation
import PeerDistWire
import Testing

@testable import PeerDistCollaboration

/// The book: what it keeps survives reopening, it holds at most 128 objects, it finds contacts
/// by fingerprint or name, and a file it cannot read is an error naming the file.
struct CollaborationBookTests {
    @Test func anEmptyDirectoryIsAnEmptyBook() throws {
        let scratch = try BookScratch()
        let book = try CollaborationBook(directory: scratch.path)
        #expect(book.path == "\(scratch.path)/people.json")
        #expect(!book.hasDetails)
        #expect(book.contacts.isEmpty && book.objects.isEmpty)
        #expect(book.settings == CollaborationSettings())
        #expect(!book.settings.nearMe)
        #expect(book.audience(ofContent: "00") == nil)
        // Nothing is written until something changes.
        #expect(!FileManager.default.fileExists(atPath: book.path))
    }

    @Test func everythingSurvivesReopening() throws {
        let scratch = try BookScratch()
        let book = try CollaborationBook(directory: scratch.path)
        let me = try PersonDetails(displayName: "Ada Lovelace", nickname: "ada", email: "ada@example.org")
        try book.setMe(me)
        try book.updateSettings {
            $0.nearMe = true
            $0.status = .onThePhone
            $0.note = "until 3 ☎"
            $0.invitationPolicy = .nearMe
            $0.invitationLifetime = 600
            $0.applications = ["whiteboard": "xournalpp -"]
        }
        let grace = try ContactCard.sample("Grace Hopper", nickname: "grace")
        let alan = try ContactCard.sample("Alan Turing", nickname: "")
        #expect(try book.add(grace).isNew)
        #expect(try book.add(alan).isNew)
        try book.updateContact("grace") {
            $0.mayWatchMe = false
            $0.mayInvite = false
        }
        try book.updateContact(alan.fingerprint) { $0.watchThem = false }
        let avatar = try PublishedObject(name: "avatar.png", data: [0x89, 0x50, 0x4E, 0x47], scope: .contacts)
        let offers = try PublishedObject(name: "offers", data: Array("content ids".utf8), scope: .nearMe)
        try book.setObject(avatar)
        try book.setObject(offers)
        try book.restrict(content: "ab12", to: [grace.key])
        try book.restrict(content: "ab12", to: [alan.key])  // adds to the audience
        try book.restrict(mirror: "cd34", to: [alan.key])
        try book.restrict(content: "ef56", to: [grace.key])
        try book.restrict(content: "ef56", to: nil)  // public again

        let reopened = try CollaborationBook(directory: scratch.path)
        #expect(reopened.hasDetails)
        #expect(reopened.me == me)
        #expect(reopened.settings == book.settings)
        #expect(reopened.settings.nearMe && reopened.settings.status == .onThePhone && reopened.settings.note == "until 3 ☎")
        #expect(reopened.settings.invitationPolicy == .nearMe && reopened.settings.invitationLifetime == 600)
        #expect(reopened.settings.applications == ["whiteboard": "xournalpp -"])
        #expect(reopened.contacts == book.contacts)
        #expect(reopened.contacts.map(\.key) == [grace.key, alan.key])
        let reopenedGrace = try #require(reopened.contact(for: grace.key))
        #expect(reopenedGrace.card == grace)
        #expect(!reopenedGrace.mayWatchMe && reopenedGrace.watchThem && !reopenedGrace.mayInvite)
        let reopenedAlan = try #require(reopened.contact(for: alan.key))
        #expect(reopenedAlan.mayWatchMe && !reopenedAlan.watchThem && reopenedAlan.mayInvite)
        #expect(reopened.objects == [avatar, offers])
        #expect(reopened.objects.map(\.data) == [avatar.data, offers.data])
        #expect(reopened.objects.map(\.scope) == [.contacts, .nearMe])
        #expect(reopened.objects.map(\.modified) == book.objects.map(\.modified))
        #expect(reopened.audience(ofContent: "ab12") == [grace.key, alan.key])
        #expect(reopened.audience(ofMirror: "cd34") == [alan.key])
        #expect(reopened.audience(ofContent: "ef56") == nil)
        #expect(reopened.audience(ofMirror: "ab12") == nil)
    }

    @Test func addingAKnownKeyReplacesTheCardAndKeepsThePermissions() throws {
        let scratch = try BookScratch()
        let book = try CollaborationBook(directory: scratch.path)
        let identity = NodeIdentity.generate()
        try book.add(try ContactCard.sample("Grace", identity: identity))
        try book.updateContact("Grace") { $0.mayInvite = false }
        let renamed = try ContactCard.sample("Grace Hopper", identity: identity)
        let (contact, isNew) = try book.add(renamed)
        #expect(!isNew)
        #expect(contact.card == renamed && !contact.mayInvite)
        #expect(try CollaborationBook(directory: scratch.path).contacts.map(\.displayName) == ["Grace Hopper"])
    }

    @Test func anExpiredCardStaysAContact() throws {
        let scratch = try BookScratch()
        let book = try CollaborationBook(directory: scratch.path)
        let card = try ContactCard.sample(validity: 60)
        #expect(card.expires < Date())
        try book.add(card)
        #expect(try CollaborationBook(directory: scratch.path).contacts.map(\.card) == [card])
    }

    @Test func the129thObjectIsRefused() throws {
        let scratch = try BookScratch()
        let book = try CollaborationBook(directory: scratch.path)
        for index in 0..<PublishedObject.maximumCount {
            try book.setObject(try PublishedObject(name: "object-\(index)", data: [UInt8(index & 0xFF)], scope: .contacts))
        }
        let extra = try PublishedObject(name: "one-too-many", data: [1], scope: .contacts)
        let error = expectFailure(.invalidValue) { () throws(CollaborationError) in try book.setObject(extra) }
        #expect(error?.message.contains("128") == true)
        #expect(book.objects.count == 128)
        // Replacing one is not adding one.
        let replacement = try PublishedObject(name: "object-5", data: [9, 9], scope: .nearMe)
        try book.setObject(replacement)
        #expect(book.objects.count == 128)
        let reopened = try CollaborationBook(directory: scratch.path)
        #expect(reopened.objects.count == 128)
        #expect(!reopened.objects.contains { $0.name == "one-too-many" })
        #expect(reopened.objects.first { $0.name == "object-5" } == replacement)
        // After removing one there is room again.
        try reopened.removeObject(named: "object-0")
        try reopened.setObject(extra)
        expectFailure(.notFound) { () throws(CollaborationError) in try reopened.removeObject(named: "object-0") }
    }

    /// Three contacts: two share a display name, one has a nickname.
    static func people() throws -> (contacts: [Contact], ada: Contact, grace: Contact, otherGrace: Contact) {
        let ada = Contact(card: try ContactCard.sample("Ada Lovelace", nickname: "Countess"))
        let grace = Contact(card: try ContactCard.sample("Grace Hopper", nickname: "amazing"))
        let otherGrace = Contact(card: try ContactCard.sample("grace hopper", nickname: ""))
        return ([ada, grace, otherGrace], ada, grace, otherGrace)
    }

    @Test func contactsResolveByFingerprint() throws {
        let (contacts, ada, grace, otherGrace) = try Self.people()
        for contact in [ada, grace, otherGrace] {
            #expect(try contacts.resolve(contact.fingerprint).key == contact.key)
            #expect(try contacts.resolve(contact.fingerprint.uppercased()).key == contact.key)
            #expect(try contacts.resolve(contact.fingerprint.replacingOccurrences(of: "-", with: "")).key == contact.key)
        }
    }

    @Test func contactsResolveByNameOrNicknameInAnyCase() throws {
        let (contacts, ada, grace, _) = try Self.people()
        #expect(try contacts.resolve("Ada Lovelace").key == ada.key)
        #expect(try contacts.resolve("ADA LOVELACE").key == ada.key)
        #expect(try contacts.resolve("countess").key == ada.key)
        #expect(try contacts.resolve("Amazing").key == grace.key)
    }

    @Test func aSharedNameIsAmbiguous() throws {
        let (contacts, _, grace, otherGrace) = try Self.people()
        let error = expectFailure(.ambiguous) { () throws(CollaborationError) in try contacts.resolve("Grace Hopper") }
        #expect(error?.message.contains(grace.fingerprint) == true)
        #expect(error?.message.contains(otherGrace.fingerprint) == true)
        // An empty nickname names nobody.
        expectFailure(.notFound) { () throws(CollaborationError) in try contacts.resolve("") }
    }

    @Test func anUnknownNameIsNotFound() throws {
        let (contacts, _, _, _) = try Self.people()
        let error = expectFailure(.notFound) { () throws(CollaborationError) in try contacts.resolve("Charles Babbage") }
        #expect(error?.message.contains("Charles Babbage") == true)
        // A well-formed fingerprint of nobody in the book.
        expectFailure(.notFound) { () throws(CollaborationError) in try contacts.resolve(NodeIdentity.generate().fingerprint) }
    }

    @Test func theBookResolvesAndRemovesContacts() throws {
        let scratch = try BookScratch()
        let book = try CollaborationBook(directory: scratch.path)
        let (contacts, ada, grace, otherGrace) = try Self.people()
        for contact in contacts { try book.add(contact.card) }
        #expect(try book.resolve("countess").key == ada.key)
        expectFailure(.ambiguous) { () throws(CollaborationError) in try book.resolve("grace hopper") }
        expectFailure(.ambiguous) { () throws(CollaborationError) in try book.removeContact("grace hopper") }
        #expect(try book.removeContact(otherGrace.fingerprint).key == otherGrace.key)
        #expect(try book.resolve("grace hopper").key == grace.key)
        expectFailure(.notFound) { () throws(CollaborationError) in try book.updateContact("nobody") { $0.mayInvite = false } }
        #expect(try CollaborationBook(directory: scratch.path).contacts.map(\.key) == [ada.key, grace.key])
    }

    @Test func aCorruptFileIsAnErrorNamingIt() throws {
        let scratch = try BookScratch()
        let path = "\(scratch.path)/people.json"
        for corrupt in ["{\"contacts\": [", "[]", "{\"contacts\": [{\"card\": \"peerdist-contact:AAAA\"}]}", "\u{FEFF}not json"] {
            try Data(corrupt.utf8).write(to: URL(fileURLWithPath: path))
            let error = expectFailure(.io) { () throws(CollaborationError) in try CollaborationBook(directory: scratch.path) }
            #expect(error?.message.contains(path) == true, "\(error?.message ?? "")")
        }
    }

    @Test func aMissingFieldNamesTheField() throws {
        let scratch = try BookScratch()
        let book = try CollaborationBook(directory: scratch.path)
        try book.add(try ContactCard.sample())
        var text = try String(contentsOfFile: book.path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"may_invite\"", with: "\"may_invent\"")
        try text.write(toFile: book.path, atomically: false, encoding: .utf8)
        let error = expectFailure(.io) { () throws(CollaborationError) in try CollaborationBook(directory: scratch.path) }
        #expect(error?.message.contains("may_invite") == true, "\(error?.message ?? "")")
    }

    /// A people.json that exists but cannot be read must not open as an empty book, whose first
    /// change would replace the file.
    @Test func anUnreadableFileIsAnErrorNotAnEmptyBook() throws {
        let scratch = try BookScratch()
        let path = "\(scratch.path)/people.json"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let error = expectFailure(.io) { () throws(CollaborationError) in try CollaborationBook(directory: scratch.path) }
        #expect(error?.message.contains(path) == true)
    }

    @Test func settingsMissingFromTheFileTakeTheirDefaults() throws {
        let scratch = try BookScratch()
        try Data(#"{"settings": {"near_me": true}}"#.utf8).write(to: URL(fileURLWithPath: "\(scratch.path)/people.json"))
        let book = try CollaborationBook(directory: scratch.path)
        var expected = CollaborationSettings()
        expected.nearMe = true
        #expect(book.settings == expected)
        #expect(book.settings.invitationPolicy == .contacts && book.settings.status == .online)
    }
}
