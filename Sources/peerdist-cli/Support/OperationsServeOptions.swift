import ArgumentParser

/// `serve`'s operator endpoints: Prometheus metrics and the status page.
struct OperationsServeOptions: ParsableArguments {
    @Option(name: .customLong("metrics"), help: ArgumentHelp(
        "Serve Prometheus metrics at http://ADDR:PORT/metrics (a port alone listens on loopback only).", valueName: "[addr]:port"))
    var metrics: String?

    @Option(name: .customLong("web"), help: ArgumentHelp(
        "Serve a status page at http://ADDR:PORT/ (a port alone listens on loopback only).", valueName: "[addr]:port"))
    var web: String?

    func validate() throws {
        if let metrics, EndpointAddress(parsing: metrics) == nil {
            throw ValidationError("--metrics takes [address]:port or a port, e.g. 9740, 127.0.0.1:9740 or [::]:9740.")
        }
        if let web, EndpointAddress(parsing: web) == nil {
            throw ValidationError("--web takes [address]:port or a port, e.g. 8740, 127.0.0.1:8740 or [::]:8740.")
        }
    }
}

/// Where an operator endpoint listens: `[addr]:port`, `addr:port`, `:port` or `port`; without an
/// address, loopback, so that a node's state is not offered to the network unless asked.
struct EndpointAddress: Equatable {
    static let loopback = "127.0.0.1"

    var host: String
    var port: Int

    init?(parsing text: String) {
        let host: Substring
        let port: Substring
        if let number = Int(text) {
            host = ""
            port = Substring("\(number)")
        } else if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let number = Int(port), (0...65_535).contains(number), !host.contains(where: \.isWhitespace) else { return nil }
        self.host = host.isEmpty ? Self.loopback : String(host)
        self.port = number
    }
}
