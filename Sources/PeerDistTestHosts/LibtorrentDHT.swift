import Foundation

/// `scripts/libtorrent-dht` in a namespace: libtorrent sessions driven through stdin, answering
/// in JSON lines.
package final class LibtorrentDHT: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()

    /// Starts `script` (`scripts/libtorrent-dht`) in `host`'s namespace with sessions on `ports`
    /// of both its addresses, and waits until it is ready.
    package init(script: String, host: RoutedSubnets.Host, ports: ClosedRange<Int>, bootstrap: [String], log: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", host.namespace, script,
                             "--address", "\(host.ipv6Address),\(host.ipv4Address)", "--ports", "\(ports.lowerBound)-\(ports.upperBound)"]
            + (bootstrap.isEmpty ? [] : ["--bootstrap"] + bootstrap)
        process.standardInput = input
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        let ready = try readObject()
        guard ready["ready"] as? Bool == true else { throw Failure(description: "libtorrent did not start: \(ready)") }
    }

    package struct Failure: Error, CustomStringConvertible {
        package let description: String
        package init(description: String) { self.description = description }
    }

    /// Sends one command and returns its answer.
    package func command(_ line: String) throws -> [String: Any] {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        return try readObject()
    }

    /// Waits until every session knows some nodes.
    package func waitForNodes() throws {
        for _ in 0..<60 {
            let sizes = try command("nodes")["nodes"] as? [Int] ?? []
            if !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) { return }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw Failure(description: "libtorrent's sessions found no DHT nodes")
    }

    private func readObject() throws -> [String: Any] {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[..<newline]
                buffer.removeSubrange(...newline)
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                    throw Failure(description: "libtorrent-dht said \(String(decoding: line, as: UTF8.self))")
                }
                return object
            }
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw Failure(description: "libtorrent-dht ended") }
            buffer += chunk
        }
    }

    package func stop() {
        guard process.isRunning else { return }
        try? input.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
