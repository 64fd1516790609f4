import Foundation

/// Where the command's words go: results on standard output, diagnostics on standard error.
package enum Output {
    /// Unbuffered, so a line reaches a pipe or log file the moment it is printed. A reader that
    /// went away (`peerdist … | head -1`) ends the command quietly, as it does for other tools.
    package static func line(_ text: String = "") {
        write(text + "\n", to: STDOUT_FILENO)
    }

    package static func error(_ text: String) {
        write(text + "\n", to: STDERR_FILENO)
    }

    package static func write(_ text: String, to descriptor: Int32) {
        write(Array(text.utf8), to: descriptor)
    }

    package static func write(_ data: [UInt8], to descriptor: Int32) {
        var bytes = data[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written > 0 {
                bytes = bytes.dropFirst(written)
            } else if errno == EPIPE {
                exit(0)
            } else if errno != EINTR {
                return
            }
        }
    }

    /// Pretty-printed JSON with stable key order, for scripts.
    package static func json<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// A command-line mistake or an operation that failed, reported as one line.
package struct CommandFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
