import ArgumentParser
import Foundation
import PeerDist
import PeerDistMirror
import PeerDistCommandSupport

struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Keep a directory identical on many machines: signed versions, only changed chunks on the wire.",
        discussion: """
            A mirror is named AUTHORITY.CLASSIFIER: the authority derives from the publishing node's \
            key, so only that node can publish versions under the name; any node can relay them. \
            Followers find the publisher and each other on the LAN (or through the data directory's \
            `peers` file) and apply each new version whole: files are written under temporary names \
            and renamed into place, and a local change is moved aside, never lost.
            """,
        subcommands: [Publish.self, Follow.self, Status.self, Wait.self]
    )

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "publish",
            abstract: "Publish a directory as a mirror (again after changes: a new version), and print its name.",
            discussion: "Hands the directory to the running node, or with --serve runs one in the foreground."
        )

        @Argument(help: "The directory to publish.")
        var directory: String

        @Option(help: ArgumentHelp("The classifier, the name's second part (default: the directory's name).", valueName: "classifier"))
        var name: String?

        @Flag(help: "Publish a new version whenever the files change (within a second of changes settling).")
        var watch = false

        @Option(name: .customLong("to"), parsing: .upToNextOption, help: ArgumentHelp(
            "Let only these contacts (fingerprints, names or nicknames) follow it: no one else learns it exists.", valueName: "contact"))
        var audience: [String] = []

        @Flag(name: .customLong("contacts"), help: "Let only your contacts follow it.")
        var allContacts = false

        @OptionGroup var node: NodeOptions
        @OptionGroup var serving: ServeOptions

        func run() async throws {
            let path = try MirrorCommand.existingDirectory(directory)
            let readers = allContacts ? ["*"] : audience
            let request = ControlRequest.mirrorPublish(directory: path, classifier: name, watch: watch, audience: readers)
            try await MirrorCommand.perform(request, node: node, serving: serving) { node in
                if let audience = try node.audience(readers) {
                    try node.restrict(mirror: try node.mirrors.name(forDirectory: path, classifier: name).description, to: audience)
                }
                return try node.mirrors.publish(directory: path, classifier: name, watch: watch)
            }
        }
    }

    struct Follow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "follow",
            abstract: "Keep a directory equal to the newest version of a mirror.",
            discussion: "Hands the mirror to the running node, or with --serve runs one in the foreground. The directory is created if missing."
        )

        @Argument(help: "The mirror's name, AUTHORITY.CLASSIFIER.")
        var mirror: String

        @Argument(help: "The directory to keep equal to it.")
        var directory: String

        @OptionGroup var node: NodeOptions
        @OptionGroup var serving: ServeOptions

        func validate() throws {
            do {
                _ = try MirrorName(parsing: mirror)
            } catch {
                throw ValidationError("\(error)")
            }
        }

        func run() async throws {
            let path = URL(fileURLWithPath: directory).standardizedFileURL.path
            let created = !FileManager.default.fileExists(atPath: path)
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw CommandFailure("cannot create \(path): \(error.localizedDescription)")
            }
            let name = try MirrorName(parsing: mirror)
            do {
                try await MirrorCommand.perform(.mirrorFollow(name: name, directory: path), node: node, serving: serving) { node in
                    try node.mirrors.follow(name: name, directory: path)
                }
            } catch {
                // A refused follow leaves nothing behind: not even the directory it made.
                if created { try? FileManager.default.removeItem(atPath: path) }
                throw error
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show each mirror: version, files, bytes, peers and what is pending.")

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let mirrors = try await node.ask(.mirrorStatus, answer: { $0.mirrors ?? [] }) { $0.mirrors.statuses() }
            if node.json {
                try Output.json(["mirrors": mirrors])
                return
            }
            if mirrors.isEmpty { Output.line("no mirrors") }
            for mirror in mirrors {
                Output.line(mirror.name)
                Output.line("  \(mirror.role.rawValue) of \(mirror.directory)\(mirror.watching ? " (watching)" : "")")
                Output.line("  version \(mirror.version), \(mirror.files) files, \(ByteCount.format(Int(mirror.bytes))), \(mirror.peers) peers, \(mirror.state)")
                if let pending = mirror.pendingVersion {
                    Output.line("  pending version \(pending): \(ByteCount.format(Int(mirror.pendingBytes))) to fetch")
                }
                if let error = mirror.error { Output.line("  last error: \(error)") }
            }
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "wait",
            abstract: "Wait until the running node holds a version of a mirror, with nothing pending.",
            discussion: "For scripts: exits 0 once the mirror's directory is on --version (or newer), 1 after --timeout."
        )

        @Argument(help: "The mirror's name, AUTHORITY.CLASSIFIER.")
        var mirror: String

        @Option(help: "The version to wait for.")
        var version: UInt64

        @Option(help: ArgumentHelp("Give up after this many seconds.", valueName: "seconds"))
        var timeout: Double = 300

        @OptionGroup var node: NodeOptions

        func run() async throws {
            let deadline = ContinuousClock.now + .seconds(timeout)
            var last: MirrorStatus?
            while ContinuousClock.now < deadline {
                guard let reply = try await node.askRunningNode(.mirrorStatus) else {
                    throw CommandFailure("no node is running on \(node.directory.path); start `peerdist serve`")
                }
                last = reply.mirrors?.first { $0.name == mirror }
                if let status = last, status.version >= version, status.pendingBytes == 0, status.pendingVersion == nil {
                    if node.json { try Output.json(status) }
                    return
                }
                // The control socket is cheap to ask; the poll is what bounds how late this returns.
                try await Task.sleep(for: .milliseconds(20))
            }
            let state = last.map { "it is on version \($0.version), \($0.state)\($0.error.map { ": \($0)" } ?? "")" } ?? "the node does not follow it"
            throw CommandFailure("\(mirror) did not reach version \(version) within \(timeout) s; \(state)")
        }
    }

    /// The absolute path of `path`, which must be a directory.
    static func existingDirectory(_ path: String) throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else { throw CommandFailure("\(absolute) does not exist") }
        guard isDirectory.boolValue else { throw CommandFailure("\(absolute) is not a directory") }
        return absolute
    }

    /// Sends `request` to the running node; without one, does `locally` on a node opened here
    /// (which records the mirror in the data directory) and, with --serve, runs that node.
    static func perform(
        _ request: ControlRequest, node options: NodeOptions, serving: ServeOptions, locally: (PeerNode) throws -> MirrorStatus
    ) async throws {
        if let reply = try await options.askRunningNode(request), let status = reply.mirrors?.first {
            report(status, json: options.json)
            return
        }
        let node = try NodeRunner.open(options, listen: serving.serve ? PeerAddress(parsing: serving.listen, listening: true) : nil)
        let status: MirrorStatus
        do {
            status = try locally(node)
        } catch {
            throw CommandFailure("\(error)")
        }
        report(status, json: options.json)
        if serving.serve {
            try await NodeRunner.runUntilSignalled(node, logger: options.logger()) { node in
                if !options.json { Output.error("serving on \(node.listeningAddresses.joined(separator: ", ")); stop with Ctrl-C") }
            }
        } else if !options.json {
            Output.error("note: no node is running on \(options.directory.path); the mirror is recorded and will be served once `peerdist serve` runs")
        }
    }

    static func report(_ status: MirrorStatus, json: Bool) {
        if json {
            try? Output.json(status)
        } else {
            Output.line(status.name)
            if status.role == .publisher { Output.error("version \(status.version): \(status.files) files, \(ByteCount.format(Int(status.bytes)))") }
        }
    }
}

/// `--serve` and `--listen` for commands that can run a node in the foreground.
struct ServeOptions: ParsableArguments {
    @Flag(help: "When no node runs on the data directory, run one in the foreground.")
    var serve = false

    @Option(help: ArgumentHelp("With --serve: address and port to accept peers on.", valueName: "[addr]:port"))
    var listen = "[::]:\(PeerAddress.defaultPort)"

    func validate() throws {
        guard PeerAddress(parsing: listen, listening: true) != nil else { throw ValidationError("--listen takes [address]:port.") }
    }
}
