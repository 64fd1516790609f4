import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import PeerDist
import PeerDistOperations
import Prometheus
import Testing

/// The endpoints over real loopback sockets, on a real node opened in a scratch directory.
@Suite struct OperationsEndpointTests {
    static func get(_ url: String, method: String = "GET") async throws -> (status: Int, type: String, body: String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        // The node answers from this process's cooperative pool, which the suite's process-running
        // tests can hold for over a minute on a loaded two-core machine.
        request.timeoutInterval = 600
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return (http.statusCode, http.value(forHTTPHeaderField: "Content-Type") ?? "", String(decoding: data, as: UTF8.self))
    }

    /// A node on a scratch data directory, removed afterwards.
    static func withNode(_ body: (PeerNode, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-ops-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try PeerNode(configuration: .init(dataDirectory: DataDirectory(path: directory + "/node")), logger: Logger(label: "test"))
        try await body(node, directory)
    }

    /// Runs `server` while `body` runs, then stops it.
    static func serving(_ server: OperationsHTTPServer, _ body: () async throws -> Void) async throws {
        let task = Task { try await server.run() }
        defer { task.cancel() }
        try await body()
    }

    @Test func metricsExposeTheStoreAndCountOnce() async throws {
        try await Self.withNode { node, directory in
            let file = directory + "/published"
            try Data(repeating: 7, count: 100_000).write(to: URL(fileURLWithPath: file))
            _ = try await node.publish(path: file, version: .v1)
            let tree = directory + "/tree"
            try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
            try Data(repeating: 1, count: 3000).write(to: URL(fileURLWithPath: tree + "/a"))
            try Data(repeating: 2, count: 4000).write(to: URL(fileURLWithPath: tree + "/b"))
            let mirror = try node.mirrors.publish(directory: tree, classifier: "ops", watch: false)
            let registry = PrometheusCollectorRegistry()
            let server = try await OperationsEndpoints.metrics(
                NodeMetrics(node: node, registry: registry), host: "127.0.0.1", port: 0, logger: Logger(label: "test"))
            try await Self.serving(server) {
                let first = try await Self.get("http://\(server.address)/metrics")
                #expect(first.status == 200)
                #expect(first.type == OperationsEndpoints.metricsContentType)
                #expect(first.body.contains("\npeerdist_store_published_bytes 100000.0\n"))
                #expect(first.body.contains("# TYPE peerdist_block_bytes_received_total counter\npeerdist_block_bytes_received_total 0\n"))
                // A second scrape reads the same totals: nothing is added twice.
                let second = try await Self.get("http://\(server.address)/metrics")
                #expect(second.body.contains("\npeerdist_store_entries 1.0\n"))
                // The mirror published, by name and role.
                let labels = "{mirror=\"\(mirror.name)\",role=\"publisher\"}"
                #expect(second.body.contains("\npeerdist_mirror_version\(labels) 1.0\n"), "\(second.body)")
                #expect(second.body.contains("\npeerdist_mirror_bytes\(labels) 7000.0\n"))
                #expect(second.body.contains("\npeerdist_mirror_pending_bytes\(labels) 0.0\n"))
                #expect(try await Self.get("http://\(server.address)/nothing").status == 404)
                #expect(try await Self.get("http://\(server.address)/metrics", method: "POST").status == 405)
            }
        }
    }

    @Test func statusPageAndItsJSON() async throws {
        try await Self.withNode { node, _ in
            let server = try await OperationsEndpoints.statusPage(for: node, host: "127.0.0.1", port: 0, logger: Logger(label: "test"))
            try await Self.serving(server) {
                let page = try await Self.get("http://\(server.address)/")
                #expect(page.type == "text/html; charset=utf-8")
                // Self-contained: no script, style or image is fetched from anywhere.
                #expect(!page.body.contains("src=") && !page.body.contains("href="))
                #expect(page.body.contains("fetch(\"status.json\""))
                let state = try await Self.get("http://\(server.address)/status.json")
                let object = try #require(try JSONSerialization.jsonObject(with: Data(state.body.utf8)) as? [String: Any])
                let status = try #require(object["status"] as? [String: Any])
                #expect(status["fingerprint"] as? String == node.identity.fingerprint)
                #expect((status["transfers"] as? [Any])?.isEmpty == true)
                #expect((object["presence"] as? [[String: Any]])?.first?["me"] as? Bool == true)
                // Not on the DHT, no name registered: the fields are there, empty.
                #expect(object["dht"] == nil || object["dht"] is NSNull)
                #expect((object["names"] as? [Any])?.isEmpty == true)
                #expect(page.body.contains("id=\"names\"") && page.body.contains("id=\"dht\""))
            }
        }
    }
}
