/// Where to reach a peer: `[ADDRESS]:PORT` for IPv6 (scoped link-local addresses keep their
/// `%interface`), `ADDRESS:PORT` for IPv4 or a host name.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public static let defaultPort = 7740

    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `nil` when the text is not an address with a port in 1–65535 (or 0, "any free port", when
    /// `listening`); a bare `[ADDRESS]` or host takes the default port. No host holds a bracket:
    /// `description` brackets IPv6 hosts, and must give text that parses back to this address.
    public init?(parsing text: String, listening: Bool = false) {
        let ports = (listening ? 0 : 1)...65_535
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard !host.isEmpty, !host.contains("[") else { return nil }
            if rest.isEmpty {
                self.init(host: host, port: Self.defaultPort)
                return
            }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), ports.contains(port) else { return nil }
            self.init(host: host, port: port)
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            let host = text[..<colon]
            guard let port = Int(text[text.index(after: colon)...]), ports.contains(port), !host.isEmpty, !host.contains("["), !host.contains("]") else { return nil }
            self.init(host: String(host), port: port)
        } else if !text.isEmpty, !text.contains(" "), !text.contains("["), !text.contains("]") {
            // A bare IPv6 address (several colons) or host name.
            self.init(host: text, port: Self.defaultPort)
        } else {
            return nil
        }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
