import Crypto
import Foundation
import Logging
import NIOCore
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistWire
@testable import PeerDistMirror

/// A node answering `GetChunks` for a published mirror, asked over a real connection.
@Suite struct MirrorChunkServingTests {
    /// 300 small files and a large one: the replies come many to a message, each message within
    /// the record limit, every chunk once, in order, and whole; a chunk the node does not hold is
    /// answered `notHeld` in its place.
    // The limit guards against a hang, not a slow run: on a loaded two-core machine the suite's
    // process-running tests can hold the cooperative pool's threads for a minute or more.
    @Test(.timeLimit(.minutes(5)))
    func chunkRepliesComeManyToAMessage() async throws {
        let scratch = try StoreScratch.mirror()
        let root = try scratch.directory("tree")
        var contents: [HashValue: [UInt8]] = [:]
        for index in 0..<300 {
            let bytes = StoreTestContent.random(count: 1_000 + index * 37, seed: UInt64(index))
            try MirrorFiles.write(bytes, "d\(index % 7)/f\(index)", in: root)
        }
        try MirrorFiles.write(StoreTestContent.random(count: 700_000, seed: 999), "large.bin", in: root)
        let scan = try TreeScanner(root: root).scan()
        var chunks: [ChunkReference] = []
        for entry in scan.entries {
            guard case .file(let fileChunks) = entry.kind else { continue }
            chunks += fileChunks
            for chunk in fileChunks where contents[chunk.hash] == nil {
                contents[chunk.hash] = try Self.bytes(of: chunk, in: fileChunks, file: "\(root)/\(entry.path)")
            }
        }
        let missing = ChunkReference(hash: HashValue(SHA256.hash(data: [1, 2, 3])), length: 3)
        chunks.insert(missing, at: 150)
        #expect(chunks.count > 300 && chunks.count <= PeerMessage.Limits.maximumChunksPerRequest)

        var configuration = PeerNode.Configuration(dataDirectory: DataDirectory(path: "\(scratch.path)/node"), listen: PeerAddress(host: "::1", port: 0))
        configuration.quotaBytes = nil
        let node = try PeerNode(configuration: configuration, logger: Logger(label: "test"))
        let name = try MirrorName(parsing: try node.mirrors.publish(directory: root, classifier: "serving", watch: false).name)
        let running = Task { try await node.run() }
        let outcome = await Result { try await Self.ask(node: node, for: chunks, of: name) }
        running.cancel()
        _ = await running.result
        scratch.remove()
        let messages = try outcome.get()

        var replies: [ChunkReply] = []
        for message in messages.dropLast() {
            guard case .chunks(7, let batch) = message else {
                Issue.record("expected chunk replies, got \(message)")
                return
            }
            var encoded = ByteBuffer()
            message.write(to: &encoded)
            #expect(encoded.readableBytes <= PeerMessage.Limits.maximumMessage)
            replies += batch
        }
        #expect(messages.last == .replyEnd(requestID: 7))
        #expect(messages.count - 1 < chunks.count / 10, "\(messages.count - 1) messages for \(chunks.count) chunks")
        #expect(replies.map(\.index) == Array(0..<UInt32(chunks.count)))
        for (chunk, reply) in zip(chunks, replies) {
            if chunk == missing {
                #expect(reply.flags == .notHeld && reply.payload.readableBytes == 0)
            } else {
                #expect(try MirrorChunkFetcher.open(reply.payload, compressed: reply.flags.contains(.compressed), as: chunk) == contents[chunk.hash])
            }
        }
    }

    private static func ask(node: PeerNode, for chunks: [ChunkReference], of name: MirrorName) async throws -> [PeerMessage] {
        while node.listeningAddresses.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        let port = try #require(PeerAddress(parsing: node.listeningAddresses[0])?.port)
        let (channel, _) = try await PeerNetwork.connect(host: "::1", port: port, identity: .generate())
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.getChunks(requestID: 7, discoveryKey: name.discoveryKey, chunks: chunks))
            var messages: [PeerMessage] = []
            for try await message in inbound {
                messages.append(message)
                if case .replyEnd = message { return messages }
            }
            throw WireError("the connection closed before the reply ended")
        }
    }

    /// The bytes of `chunk`, the first chunk of that hash in a file's list.
    private static func bytes(of chunk: ChunkReference, in fileChunks: [ChunkReference], file: String) throws -> [UInt8] {
        let all = try #require(FileManager.default.contents(atPath: file))
        let offset = fileChunks.prefix { $0 != chunk }.reduce(0) { $0 + Int($1.length) }
        return Array(all[offset..<offset + Int(chunk.length)])
    }
}

extension Result where Failure == any Error {
    /// The outcome of `body`, caught.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
