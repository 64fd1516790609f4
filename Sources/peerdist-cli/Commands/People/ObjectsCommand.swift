import ArgumentParser
import Foundation
import PeerDist
import PeerDistCollaboration
import PeerDistCommandSupport

struct ObjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objects",
        abstract: "Small things you publish for your contacts or people near you: a picture, a status card, a list of content IDs.",
        discussion: "An object holds 1 byte to just under 16 KiB; you can publish at most 128, one per name. Contacts watching you see changes at once.",
        subcommands: [Set.self, Remove.self, List.self, Get.self],
        defaultSubcommand: List.self
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Publish a file as an object (replacing one of the same name).")

        @Argument(help: "The object's name: letters, digits, '.', '_' or '-'.") var name: String
        @Argument(help: "The file whose bytes it holds.") var file: String
        @Option(help: "Who may read it: contacts (those allowed to watch you) or near-me (anyone near you, while People Near Me is on).")
        var scope: PublishedObject.Scope = .contacts
        @OptionGroup var node: NodeOptions

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
            let objects = try await node.askPeople(.setObject(name: name, data: Array(data), scope: scope)).objects ?? []
            if node.json { try Output.json(objects) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Stop publishing an object.")

        @Argument(help: "The object's name.") var name: String
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let objects = try await node.askPeople(.removeObject(name: name)).objects ?? []
            if node.json { try Output.json(objects) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List your objects, or those a contact lets you see.")

        @Argument(help: "The contact (default: yourself).") var contact: String?
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let objects = try await node.askPeople(.objects(contact: contact)).objects ?? []
            if node.json {
                try Output.json(objects)
                return
            }
            if objects.isEmpty { Output.line("no objects") }
            for object in objects {
                Output.line("\(object.name)  \(object.size) bytes  \(object.scope.rawValue)  sha256 \(object.sha256.prefix(16))…")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Fetch a contact's object.")

        @Argument(help: "The contact.") var contact: String
        @Argument(help: "The object's name.") var name: String
        @Option(name: .shortAndLong, help: ArgumentHelp("Write it to this file (default: standard output).", valueName: "file"))
        var output: String?
        @OptionGroup var node: NodeOptions

        func run() async throws {
            guard let object = try await node.askPeople(.getObject(contact: contact, name: name)).object, let data = object.data else {
                throw CommandFailure("the node sent no object")
            }
            if let output {
                do {
                    try Data(data).write(to: URL(fileURLWithPath: output), options: .atomic)
                } catch {
                    throw CommandFailure("cannot write \(output): \(error.localizedDescription)")
                }
                if node.json { try Output.json(object) }
            } else {
                Output.write(data, to: STDOUT_FILENO)
            }
        }
    }
}
