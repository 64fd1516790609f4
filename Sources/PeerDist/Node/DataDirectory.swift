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

    /// `DIR/peers`: peers to ask when a fetch names none, for links where multicast does not
    /// pass. One `[address]:port` per line; blank lines and `#` comments are ignored.
    public var staticPeersPath: String { "\(path)/peers" }

    /// The peers listed in `staticPeersPath`; none when the file does not exist. A line that is
    /// not an address is an error naming the file and line, not something to skip silently.
    public func staticPeers() throws(NodeError) -> [PeerAddress] {
        guard let text = try? String(contentsOfFile: staticPeersPath, encoding: .utf8) else { return [] }
        var peers: [PeerAddress] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let entry = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?.trimmingCharacters(in: .whitespaces) ?? ""
            guard !entry.isEmpty else { continue }
            guard let peer = PeerAddress(parsing: entry) else {
                throw NodeError(.invalidState, "\(staticPeersPath):\(number + 1): '\(entry)' is not a peer address; use [address]:port")
            }
            peers.append(peer)
        }
        return peers
    }
}
