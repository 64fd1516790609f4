import ArgumentParser
import Foundation
import PeerDist
import PeerDistCollaboration
import PeerDistHashing
import PeerDistCommandSupport

struct InviteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invite",
        abstract: "Invite a contact to fetch content, follow a mirror, or start an application.",
        discussion: "The invitation goes over a channel authenticated as the contact, never by multicast, so only they can read it. It stays open for 5 minutes unless set otherwise (`peerdist invitations set --expiry`)."
    )

    @Argument(help: "The contact.") var contact: String
    @Option(help: ArgumentHelp("Content to fetch, by content ID.", valueName: "id")) var content: String?
    @Option(help: ArgumentHelp("A mirror to follow, by name.", valueName: "name")) var mirror: String?
    @Option(help: ArgumentHelp("An application to start, by the name the contact registered it under.", valueName: "name")) var app: String?
    @Option(help: ArgumentHelp("With --app: a file whose bytes the application gets on its standard input (at most 16 KiB).", valueName: "file"))
    var data: String?
    @Option(help: "A message to go with it (at most 255 characters).") var message = ""
    @Flag(help: "Wait for the answer: accepted, declined or expired.") var wait = false
    @OptionGroup var node: NodeOptions

    func validate() throws {
        guard [content, mirror, app].compactMap({ $0 }).count == 1 else { throw ValidationError("give one of --content, --mirror or --app.") }
        if data != nil, app == nil { throw ValidationError("--data goes with --app.") }
    }

    func run() async throws {
        let subject: Invitation.Subject
        if let content {
            guard let id = ContentID(parsing: content) else { throw CommandFailure("\(content) is not a content ID") }
            subject = .content(id.hex)
        } else if let mirror {
            subject = .mirror(mirror)
        } else {
            var bytes: [UInt8] = []
            if let data {
                guard let contents = FileManager.default.contents(atPath: data) else { throw CommandFailure("cannot read \(data)") }
                bytes = Array(contents)
            }
            subject = .application(name: app ?? "", data: bytes)
        }
        let reply = try await node.askPeople(.invite(contact: contact, subject: subject, message: message, wait: wait))
        let outcome = reply.outcome ?? .pending
        if outcome == .refused { throw CommandFailure("\(contact) takes no invitations from you") }
        if node.json {
            try Output.json(["outcome": outcome.rawValue])
        } else {
            Output.line(outcome == .pending ? "sent; waiting for \(contact) to answer" : outcome.rawValue)
        }
    }
}

struct InvitationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invitations",
        abstract: "The invitations waiting for your answer: list, accept or decline them, and choose whose you take.",
        subcommands: [List.self, Accept.self, Decline.self, Set.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the invitations waiting for your answer.")

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let invitations = try await node.askPeople(.invitations).invitations ?? []
            if node.json {
                try Output.json(invitations)
                return
            }
            if invitations.isEmpty { Output.line("no invitations waiting") }
            for invitation in invitations {
                let message = invitation.message.isEmpty ? "" : " — \"\(invitation.message)\""
                Output.line("\(invitation.number)  \(PeopleText.person(invitation.name, invitation.fingerprint)) invites you to \(invitation.kind) \(invitation.subject)\(message)  (\(invitation.secondsLeft)s left)")
            }
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept",
            abstract: "Accept an invitation: fetch the content to PATH, follow the mirror into PATH, or run the application.",
            discussion: "An application runs the command registered with `peerdist apps register`, with the invitation's data on its standard input and PEERDIST_INVITER_FINGERPRINT, PEERDIST_INVITER_NAME and PEERDIST_INVITATION_MESSAGE in its environment."
        )

        @Argument(help: "The invitation's number in `peerdist invitations`.") var number: Int
        @Option(name: .shortAndLong, help: ArgumentHelp("Where to put the content, or the directory to follow the mirror into.", valueName: "path"))
        var output: String?
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let destination = output.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            let bar = node.json ? nil : ProgressBar(label: "invitation \(number)")
            let reply = try await node.askPeople(.acceptInvitation(number: number, output: destination)) { event in
                guard event.event == .progress, let held = event.heldBytes, let total = event.totalBytes else { return }
                bar?.update(done: held, total: total)
            }
            bar?.finish()
            if let launch = reply.launch {
                let status = try Self.run(launch)
                if status != 0 { throw ExitCode(status) }
                return
            }
            if node.json { try Output.json(["outcome": "accepted", "path": destination ?? ""]) } else if let destination { Output.line(destination) }
        }

        /// Runs the registered command as the user, here, with the data on its standard input.
        static func run(_ launch: ApplicationLaunch) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", launch.command]
            var environment = ProcessInfo.processInfo.environment
            environment["PEERDIST_INVITER_FINGERPRINT"] = launch.fingerprint
            environment["PEERDIST_INVITER_NAME"] = launch.name
            environment["PEERDIST_INVITATION_MESSAGE"] = launch.message
            environment["PEERDIST_APPLICATION"] = launch.application
            process.environment = environment
            let input = Pipe()
            process.standardInput = input
            do {
                try process.run()
            } catch {
                throw CommandFailure("cannot run the \(launch.application) application: \(error.localizedDescription)")
            }
            input.fileHandleForWriting.write(Data(launch.data))
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    struct Decline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "decline", abstract: "Decline an invitation; the sender learns it was declined.")

        @Argument(help: "The invitation's number in `peerdist invitations`.") var number: Int
        @OptionGroup var node: NodeOptions

        func run() async throws {
            _ = try await node.askPeople(.declineInvitation(number: number))
            if node.json { try Output.json(["outcome": "declined"]) }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Choose whose invitations you take, and how long yours stay open.")

        @Option(help: "Take invitations from contacts (the default), anyone near you, or nobody.")
        var from: InvitationPolicy?
        @Option(help: ArgumentHelp("Seconds the invitations you send stay open (default 300).", valueName: "seconds"))
        var expiry: Double?
        @OptionGroup var node: NodeOptions

        func validate() throws {
            guard from != nil || expiry != nil else { throw ValidationError("give --from or --expiry.") }
        }

        func run() async throws {
            let me = try await node.askPeople(.setInvitations(policy: from, lifetime: expiry)).me
            if node.json, let me { try Output.json(me) }
        }
    }
}

struct AppsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apps",
        abstract: "Applications contacts may invite you to start, each a command run on acceptance.",
        discussion: "The command line stays on this machine: peers only ever see the application's name.",
        subcommands: [Register.self, List.self, Remove.self],
        defaultSubcommand: List.self
    )

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "register", abstract: "Register an application under a name.")

        @Argument(help: "The name invitations use.") var name: String
        @Option(help: "The command to run (by /bin/sh -c).") var command: String
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let applications = try await node.askPeople(.registerApplication(name: name, command: command)).applications ?? [:]
            if node.json { try Output.json(applications) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the registered applications.")

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let applications = try await node.askPeople(.applications).applications ?? [:]
            if node.json {
                try Output.json(applications)
                return
            }
            if applications.isEmpty { Output.line("no applications registered") }
            for (name, command) in applications.sorted(by: { $0.key < $1.key }) { Output.line("\(name)  \(command)") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Unregister an application.")

        @Argument(help: "The application's name.") var name: String
        @OptionGroup var node: NodeOptions

        func run() async throws {
            _ = try await node.askPeople(.removeApplication(name: name))
        }
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Stream what changes: presence, people near you, objects, invitations and their answers, contacts.",
        discussion: "Runs until interrupted. With --json, one JSON object per line."
    )

    @OptionGroup var node: NodeOptions

    func run() async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Milliseconds: how long a change took to arrive is measured from these.
        let format = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format.format(date))
        }
        _ = try await node.askPeople(.events) { line in
            guard line.event == .update, let event = line.people?.event else { return }
            if node.json {
                Output.line(String(decoding: try encoder.encode(event), as: UTF8.self))
            } else {
                Output.line(Self.describe(event))
            }
        }
    }

    static func describe(_ event: CollaborationEvent) -> String {
        let who = PeopleText.person(event.name ?? "?", event.fingerprint ?? "?")
        switch event.type {
        case .presence: return "\(who) is \(event.status?.rawValue ?? "offline")\(event.note.map { $0.isEmpty ? "" : " — \($0)" } ?? "")"
        case .nearMe: return "\(who) \(event.change ?? "changed") near you\(event.status.map { " (\($0.rawValue))" } ?? "")"
        case .object: return "\(who) \(event.change ?? "changed") object \(event.object ?? "?")"
        case .invitation: return "invitation \(event.number ?? 0) from \(who): \(event.subject ?? "")\(event.message.map { $0.isEmpty ? "" : " — \"\($0)\"" } ?? "")"
        case .invitationAnswer: return "invitation \(event.invitation?.prefix(8) ?? "") to \(who): \(event.outcome?.rawValue ?? "?")"
        case .contact: return "contact \(who) \(event.change ?? "changed")"
        }
    }
}
