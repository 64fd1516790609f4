import ArgumentParser
import Foundation
import PeerDist
import PeerDistHashing
import PeerDistMirror
import PeerDistStore
import PeerDistCommandSupport

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a file or a directory: peers can then fetch it by the content ID this prints.",
        discussion: "The file or tree is served from where it lies, never copied; if it changes, its stale blocks are never served. A directory is published as an immutable snapshot (files, empty directories, symbolic links, modes, modification times) with one ID for the whole tree. Hands it to the running node, or with --serve runs one in the foreground."
    )

    @Argument(help: "The file or directory to publish.")
    var path: String

    @OptionGroup var node: NodeOptions

    @Option(name: .customLong("content-version"), help: "Content Information version: 1 or 2.")
    var contentVersion = 1

    @Option(name: .customLong("to"), parsing: .upToNextOption, help: ArgumentHelp(
        "Share it only with these contacts (fingerprints, names or nicknames): no one else learns it exists.", valueName: "contact"))
    var audience: [String] = []

    @Flag(name: .customLong("contacts"), help: "Share it only with your contacts.")
    var allContacts = false

    @Flag(help: "When no node runs on the data directory, run one in the foreground after publishing.")
    var serve = false

    @Option(help: ArgumentHelp("With --serve: address and port to accept peers on.", valueName: "[addr]:port"))
    var listen = "[::]:\(PeerAddress.defaultPort)"

    func validate() throws {
        guard ContentInformationVersion(rawValue: contentVersion) != nil else { throw ValidationError("--content-version takes 1 or 2.") }
        guard PeerAddress(parsing: listen, listening: true) != nil else { throw ValidationError("--listen takes [address]:port.") }
        if allContacts, !audience.isEmpty { throw ValidationError("give --to or --contacts, not both.") }
    }

    /// The contacts to share with, as the node resolves them (`*`: all).
    var readers: [String] { allContacts ? ["*"] : audience }

    func run() async throws {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory), isDirectory.boolValue {
            return try await publishTree(absolute)
        }
        let request = ControlRequest.publish(path: absolute, version: ContentInformationVersion(rawValue: contentVersion) ?? .v1, audience: readers)
        if let reply = try await node.askRunningNode(request), let text = reply.contentID, let id = ContentID(parsing: text) {
            report(id)
            return
        }
        let running = try NodeRunner.open(node, listen: serve ? PeerAddress(parsing: listen, listening: true) : nil)
        let published: PublishedContent
        do {
            published = try await running.publish(
                path: absolute, version: ContentInformationVersion(rawValue: contentVersion) ?? .v1, audience: try running.audience(readers))
        } catch {
            throw CommandFailure("\(error)")
        }
        report(published.contentID)
        if serve {
            try await NodeRunner.runUntilSignalled(running, logger: node.logger()) { node in
                if !self.node.json { Output.error("serving on \(node.listeningAddresses.joined(separator: ", ")); stop with Ctrl-C") }
            }
        } else if !node.json {
            Output.error("note: no node is running on \(node.directory.path); the file is recorded and will be served once `peerdist serve` runs")
        }
    }

    /// A directory: one snapshot, one ID for the whole tree.
    private func publishTree(_ directory: String) async throws {
        guard readers.isEmpty else {
            throw CommandFailure("--to and --contacts share files only; a directory's snapshot can be read by whoever has its ID")
        }
        if let reply = try await node.askRunningNode(.publishTree(path: directory)), let text = reply.contentID, let id = SnapshotID(parsing: text) {
            reportTree(id, summary: reply.treeSummary)
            return
        }
        let running = try NodeRunner.open(node, listen: serve ? PeerAddress(parsing: listen, listening: true) : nil)
        let published: MirrorService.PublishedSnapshot
        do {
            published = try running.mirrors.publishSnapshot(directory: directory)
        } catch {
            throw CommandFailure("\(error)")
        }
        reportTree(published.id, summary: TreeSummary(published))
        if serve {
            try await NodeRunner.runUntilSignalled(running, logger: node.logger()) { node in
                if !self.node.json { Output.error("serving on \(node.listeningAddresses.joined(separator: ", ")); stop with Ctrl-C") }
            }
        } else if !node.json {
            Output.error("note: no node is running on \(node.directory.path); the tree is recorded and will be served once `peerdist serve` runs")
        }
    }

    private func reportTree(_ id: SnapshotID, summary: TreeSummary?) {
        if node.json {
            struct Published: Encodable {
                var contentID: String
                var uri: String
                var files, directories, links: Int?
                var bytes: UInt64?

                enum CodingKeys: String, CodingKey {
                    case uri, files, directories, links, bytes
                    case contentID = "content_id"
                }
            }
            try? Output.json(Published(
                contentID: id.hex, uri: id.uri, files: summary?.files, directories: summary?.directories, links: summary?.links, bytes: summary?.bytes))
        } else {
            Output.line(id.uri)
            Output.line("content id \(id.hex)")
        }
    }

    private func report(_ id: ContentID) {
        if node.json {
            try? Output.json(["content_id": id.hex, "uri": id.uri])
        } else {
            Output.line(id.uri)
            Output.line("content id \(id.hex)")
        }
    }
}

