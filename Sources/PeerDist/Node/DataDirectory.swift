import Foundation

/// A node's data directory: identity, store and control socket.
public struct DataDirectory: Sendable {
    public let path: String

    /// `--data-dir`, else `$PEERDIST_DATA_DIR`, else `$XDG_DATA_HOME/peerdist`, else `~/.local/share/peerdist`.
    public static func resolve(_ explicit: String?) -> DataDirectory {
        let environment = ProcessInfo.processInfo.environment
        if let explicit { return DataDirectory(path: explicit) }
        if let configured = environment["PEERDIST_DATA_DIR"], !configured.isEmpty { return DataDirectory(path: configured) }
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(NSHomeDirectory())/.local/share"
        return DataDirectory(path: "\(base)/peerdist")
    }

    public init(path: String) {
        self.path = URL(fileURLWithPath: path).standardizedFileURL.path
    }

    func create() throws(NodeError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NodeError(.io, "cannot create the data directory \(path): \((error as NSError).localizedDescription)")
        }
    }

    public var controlSocketPath: String { "\(path)/\(ControlSocket.fileName)" }
}
