import ArgumentParser
import Foundation
import PeerDist
import PeerDistCollaboration
import PeerDistCommandSupport

struct ContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "The people you trust: add them from a card or a fingerprint, list them, and set what each may do.",
        discussion: "Wherever a command takes a CONTACT it accepts the contact's fingerprint, display name or nickname.",
        subcommands: [Add.self, List.self, Show.self, Remove.self, Set.self],
        defaultSubcommand: List.self
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a contact from a peerdist-contact: line, a card file, or the fingerprint of someone near you.",
            discussion: "Given a fingerprint, the node fetches the person's card from their node over a channel authenticated as the key the fingerprint names. A contact added on both sides watches and may be watched."
        )

        @Argument(help: ArgumentHelp("A peerdist-contact: line, a card file, or a fingerprint.", valueName: "card|file|fingerprint"))
        var source: String

        @Option(name: .customLong("fingerprint"), help: ArgumentHelp("Refuse the card unless its key has this fingerprint (as read out by its owner).", valueName: "fingerprint"))
        var expectedFingerprint: String?

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let request: PeopleRequest
            if source.lowercased().hasPrefix(ContactCard.uriScheme) {
                request = .addContact(card: source, fingerprint: nil, expectedFingerprint: expectedFingerprint)
            } else if FileManager.default.fileExists(atPath: source) {
                guard let bytes = FileManager.default.contents(atPath: source) else { throw CommandFailure("cannot read \(source)") }
                let card: ContactCard
                do {
                    card = try ContactCard(file: Array(bytes), expectedFingerprint: expectedFingerprint)
                } catch {
                    throw CommandFailure("\(source): \(error)")
                }
                request = .addContact(card: card.uri, fingerprint: nil, expectedFingerprint: expectedFingerprint)
            } else if Fingerprint.parse(source) != nil {
                request = .addContact(card: nil, fingerprint: source, expectedFingerprint: expectedFingerprint)
            } else {
                throw CommandFailure("\(source) is not a peerdist-contact: line, a card file or a fingerprint")
            }
            let reply = try await node.askPeople(request)
            guard let contact = reply.contacts?.first else { throw CommandFailure("the node sent no contact") }
            if node.json {
                try Output.json(contact)
            } else {
                Output.line("\(reply.added == true ? "added" : "updated") \(PeopleText.person(contact.displayName, contact.fingerprint))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List your contacts.")

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let contacts = try await node.askPeople(.contacts).contacts ?? []
            if node.json {
                try Output.json(contacts)
                return
            }
            if contacts.isEmpty { Output.line("no contacts yet; add one with `peerdist contacts add`") }
            for contact in contacts {
                let nickname = contact.nickname.isEmpty ? "" : " \"\(contact.nickname)\""
                Output.line("\(contact.fingerprint)  \(contact.displayName)\(nickname)  \(PeopleText.status(contact.status))")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one contact and what they may do.")

        @Argument(help: "The contact.") var contact: String
        @OptionGroup var node: NodeOptions

        func run() async throws {
            guard let contact = try await node.askPeople(.showContact(query: contact)).contacts?.first else { throw CommandFailure("the node sent no contact") }
            if node.json {
                try Output.json(contact)
                return
            }
            Output.line("name            \(contact.displayName)")
            if !contact.nickname.isEmpty { Output.line("nickname        \(contact.nickname)") }
            Output.line("fingerprint     \(contact.fingerprint)")
            Output.line("status          \(PeopleText.status(contact.status))")
            Output.line("may watch me    \(contact.mayWatchMe ? "allow" : "block")")
            Output.line("I watch them    \(contact.watchThem ? "on" : "off")")
            Output.line("may invite me   \(contact.mayInvite ? "on" : "off")")
            if !contact.endpoints.isEmpty { Output.line("endpoints       \(contact.endpoints.joined(separator: " "))") }
            Output.line("card expires    \(ISO8601DateFormatter().string(from: contact.cardExpires))")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a contact.")

        @Argument(help: "The contact.") var contact: String
        @OptionGroup var node: NodeOptions

        func run() async throws {
            guard let removed = try await node.askPeople(.removeContact(query: contact)).contacts?.first else { return }
            if node.json { try Output.json(removed) } else { Output.line("removed \(PeopleText.person(removed.displayName, removed.fingerprint))") }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Set what a contact may do.")

        @Argument(help: "The contact.") var contact: String

        @Option(name: .customLong("watch-me"), help: "Whether they may watch your presence and objects.")
        var watchMe: Permission?

        @Option(help: "Whether you watch their presence and objects.")
        var watch: Switch?

        @Option(help: "Whether they may send you invitations.")
        var invitations: Switch?

        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard watchMe != nil || watch != nil || invitations != nil else { throw ValidationError("give --watch-me, --watch or --invitations.") }
        }

        func run() async throws {
            let request = PeopleRequest.setContact(query: contact, mayWatchMe: watchMe?.allows, watchThem: watch?.isOn, mayInvite: invitations?.isOn)
            guard let updated = try await node.askPeople(request).contacts?.first else { return }
            if node.json { try Output.json(updated) }
        }
    }
}
