import Foundation

/// Runs `Tests/Reference/pccrc_reference.py`, an independent Python implementation, and returns
/// the bytes it prints as hex.
enum ReferenceImplementation {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/pccrc_reference.py").path

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ arguments: String...) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, let bytes = Fixtures.bytes(hexIfValid: text) else {
            throw Failure(description: "reference implementation failed (\(process.terminationStatus)) for \(arguments)")
        }
        return bytes
    }
}

import PeerDistHashing

extension Fixtures {
    static func bytes(hexIfValid hex: String) -> [UInt8]? { Hex.decode(hex) }
}
