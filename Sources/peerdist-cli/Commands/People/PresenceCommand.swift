import ArgumentParser
import Foundation
import PeerDist
import PeerDistCollaboration
import PeerDistCommandSupport

struct PresenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "Show your presence and that of the contacts you watch, or set yours.",
        discussion: """
            Contacts allowed to watch you get every change at once over the secure channel. A node \
            that stops says offline; one that vanishes is shown offline a minute after it was last \
            heard (three missed 20-second heartbeats).
            """,
        subcommands: [List.self, Set.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "Show your presence and your watched contacts'.")

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let listings = try await node.askPeople(.presence).presence ?? []
            if node.json {
                try Output.json(listings)
                return
            }
            for listing in listings {
                let who = listing.isMe ? "me" : listing.name
                let note = listing.note.isEmpty ? "" : " — \(listing.note)"
                let since = listing.since.map { ", since \(PeopleText.age($0))" } ?? ""
                let reason = listing.reason.map { " (\($0))" } ?? ""
                Output.line("\(listing.fingerprint)  \(who): \(listing.status.rawValue)\(note)\(since)\(reason)")
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set your status: \(PresenceStatus.names).")

        @Argument(help: ArgumentHelp("The status.", valueName: "status"))
        var status: PresenceStatus

        @Option(help: "A note to go with it (at most 255 characters).")
        var note = ""

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let listings = try await node.askPeople(.setPresence(status: status, note: note)).presence ?? []
            if node.json, let mine = listings.first { try Output.json(mine) }
        }
    }
}

struct NearMeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "near-me",
        abstract: "Turn People Near Me on or off: announce your name, fingerprint and status on the LAN.",
        discussion: "Off by default, since your name on the LAN is a privacy choice; the setting is kept across restarts."
    )

    @Argument(help: "on or off.")
    var state: Switch

    @OptionGroup var node: NodeOptions

    func run() async throws {
        let me = try await node.askPeople(.setNearMe(on: state.isOn)).me
        if node.json, let me { try Output.json(me) }
    }
}

struct NearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "near",
        abstract: "List the people near you: those on the LAN with People Near Me on.",
        discussion: "Display names are not unique: each person is shown with their fingerprint, and a name two people use is marked."
    )

    @OptionGroup var node: NodeOptions

    func run() async throws {
        let people = try await node.askPeople(.near).near ?? []
        if node.json {
            try Output.json(people)
            return
        }
        if people.isEmpty { Output.line("no one near you has People Near Me on") }
        for person in people {
            let marks = (person.isContact ? " [contact]" : "") + (person.sharesName ? " [same name as another person near you]" : "")
            Output.line("\(person.fingerprint)  \(person.displayName)  \(person.status.rawValue)  \(person.addresses.joined(separator: " "))\(marks)")
        }
    }
}
