import ArgumentParser
import Foundation
import PeerDist
import PeerDistCollaboration
import PeerDistCommandSupport

struct MeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "me",
        abstract: "Show or set how you present yourself to contacts and people near you, and export your contact card.",
        subcommands: [Show.self, Set.self, Card.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show your details, fingerprint, status and settings.")

        @OptionGroup var node: NodeOptions

        func run() async throws {
            guard let me = try await node.askPeople(.me).me else { throw CommandFailure("the node sent no details") }
            if node.json {
                try Output.json(me)
                return
            }
            Output.line("name         \(me.displayName)")
            if !me.nickname.isEmpty { Output.line("nickname     \(me.nickname)") }
            if !me.email.isEmpty { Output.line("e-mail       \(me.email)") }
            Output.line("fingerprint  \(me.fingerprint)")
            Output.line("status       \(me.status.rawValue)\(me.note.isEmpty ? "" : " — \(me.note)")")
            Output.line("near me      \(me.nearMe ? "on" : "off")")
            Output.line("invitations  from \(me.invitationPolicy.rawValue), open \(Int(me.invitationLifetime)) s")
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Set your display name, nickname or e-mail address (each at most 255 characters).")

        @Option(help: "Your display name, shown to contacts and people near you.")
        var name: String?

        @Option(help: "A short name.")
        var nickname: String?

        @Option(help: "Your e-mail address (kept in your details, not put on your card).")
        var email: String?

        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard name != nil || nickname != nil || email != nil else { throw ValidationError("give --name, --nickname or --email.") }
        }

        func run() async throws {
            let reply = try await node.askPeople(.setMe(name: name, nickname: nickname, email: email))
            if node.json, let me = reply.me { try Output.json(me) }
        }
    }

    struct Card: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "card",
            abstract: "Export your contact card: a peerdist-contact: line to paste anywhere, a file, or a QR code.",
            discussion: "The card holds your display name, nickname, public key, creation time and the endpoints you name, signed by your key, and is valid for a year."
        )

        @Option(name: .shortAndLong, help: ArgumentHelp("Write the card to this file instead of printing its text.", valueName: "file"))
        var output: String?

        @Flag(help: "Draw the card as a QR code in the terminal.")
        var qr = false

        @Option(name: .customLong("endpoint"), help: ArgumentHelp("An address where your node can be reached, to put on the card (repeatable).", valueName: "[addr]:port"))
        var endpoints: [String] = []

        @OptionGroup var node: NodeOptions

        func validate() throws {
            for endpoint in endpoints where PeerAddress(parsing: endpoint) == nil {
                throw ValidationError("--endpoint takes [address]:port, not \(endpoint).")
            }
        }

        func run() async throws {
            guard let uri = try await node.askPeople(.card(endpoints: endpoints)).card,
                  let card = try? ContactCard(parsing: uri)
            else { throw CommandFailure("the node sent no card") }
            if let output {
                let bytes = card.encoded()
                guard FileManager.default.createFile(atPath: output, contents: Data(bytes)) else { throw CommandFailure("cannot write \(output)") }
            }
            if node.json {
                try Output.json(["card": uri, "fingerprint": card.fingerprint])
            } else if qr {
                Output.line(try TerminalQRCode.render(uri))
                Output.line(card.fingerprint)
            } else if output == nil {
                Output.line(uri)
            }
        }
    }
}
