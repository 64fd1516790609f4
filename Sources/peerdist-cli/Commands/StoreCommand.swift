import ArgumentParser
import PeerDistHashing
import PeerDist
import PeerDistCommandSupport

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "List, remove and clean up what the node holds.",
        subcommands: [List.self, Remove.self, Collect.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List published and cached content.")
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let entries = try await node.ask(.storeList, answer: { $0.entries ?? [] }) { $0.store.entries().map(StoreListing.init) }
            if node.json {
                try Output.json(entries)
                return
            }
            for entry in entries {
                let state = entry.kind == "published" ? (entry.stale == true ? "published, changed" : "published") : (entry.complete ? "cached" : "partial")
                Output.line("\(entry.uri)  \(state)  \(ByteCount.format(Int(entry.heldBytes)))/\(ByteCount.format(Int(entry.size)))  \(entry.path ?? "")")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove content from the store (a published file is unpublished, never deleted).")
        @Argument(help: "The content ID.") var id: String
        @OptionGroup var node: NodeOptions

        func run() async throws {
            guard let contentID = ContentID(parsing: id) else { throw ValidationError("'\(id)' is not a content ID.") }
            if try await node.askRunningNode(.storeRemove(contentID)) == nil {
                do {
                    try NodeRunner.open(node).store.remove(contentID: contentID)
                } catch let error as CommandFailure {
                    throw error
                } catch {
                    throw CommandFailure("\(error)")
                }
            }
            if !node.json { Output.line("removed \(contentID.uri)") }
        }
    }

    struct Collect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gc", abstract: "Delete unreferenced cache files and evict beyond the quota.")
        @OptionGroup var node: NodeOptions

        func run() async throws {
            let freed = try await node.ask(.storeCollect, answer: { $0.freedBytes ?? 0 }) { $0.store.collectGarbage().freedBytes }
            if node.json {
                try Output.json(["freed_bytes": freed])
            } else {
                Output.line("freed \(ByteCount.format(Int(freed)))")
            }
        }
    }
}
