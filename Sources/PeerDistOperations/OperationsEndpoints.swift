import Logging
import PeerDist
import Prometheus

/// The HTTP endpoints `serve` can open beside the node: Prometheus metrics (`--metrics`) and
/// the status page (`--web`).
public enum OperationsEndpoints {
    /// The content type of the Prometheus text exposition format.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Serves `metrics` at `/metrics`.
    public static func metrics(_ metrics: NodeMetrics, host: String, port: Int, logger: Logger) async throws -> OperationsHTTPServer {
        try await OperationsHTTPServer.bind(host: host, port: port, logger: logger) { path in
            switch path {
            case "/metrics": OperationsHTTPResponse(contentType: metricsContentType, body: await metrics.exposition())
            case "/": .text("PeerDist node metrics: /metrics\n")
            default: .text("not found: the metrics are at /metrics\n", status: .notFound)
            }
        }
    }

    /// Serves the status page at `/` and the state it shows at `/status.json`.
    public static func statusPage(for node: PeerNode, host: String, port: Int, logger: Logger) async throws -> OperationsHTTPServer {
        try await OperationsHTTPServer.bind(host: host, port: port, logger: logger) { path in
            switch path {
            case "/", "/index.html": OperationsHTTPResponse(contentType: "text/html; charset=utf-8", body: Array(StatusPage.html.utf8))
            case "/status.json": OperationsHTTPResponse(contentType: "application/json", body: await StatusSnapshot.read(node).json())
            default: .text("not found\n", status: .notFound)
            }
        }
    }
}
