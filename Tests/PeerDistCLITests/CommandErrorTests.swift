import Foundation
import Testing

/// Every mistake gets one line on standard error and a non-zero exit, never a crash.
@Suite struct CommandErrorTests {
    struct Mistake: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let status: Int32
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let mistakes: [Mistake] = [
        Mistake(arguments: ["hash", "/nonexistent/file"], status: 1, message: "/nonexistent/file: cannot open: No such file or directory"),
        Mistake(arguments: ["hash", "/tmp"], status: 1, message: "/tmp: not a regular file"),
        Mistake(arguments: ["hash", "/etc/hostname", "--content-version", "3"], status: 64, message: "--content-version takes 1 or 2"),
        Mistake(arguments: ["hash", "/etc/hostname", "--secret", "a", "--secret-hex", "00"], status: 64, message: "at most one of"),
        Mistake(arguments: ["hash", "/etc/hostname", "--secret-hex", "xyz"], status: 64, message: "--secret-hex takes"),
        Mistake(arguments: ["hash", "/etc/hostname", "--key-file", "/k"], status: 64, message: "--key-file needs --passphrase"),
        Mistake(arguments: ["hash", "/etc/hostname", "--threads", "0"], status: 64, message: "--threads"),
        Mistake(arguments: ["hash"], status: 64, message: "Missing expected argument"),
        Mistake(arguments: ["info", "/nonexistent.ci"], status: 1, message: "/nonexistent.ci: no such file"),
        Mistake(arguments: ["info", "/etc/hostname"], status: 1, message: "malformed Content Information"),
        Mistake(arguments: ["key", "import", "/etc/hostname", "--passphrase", "p"], status: 1, message: "key-export file"),
        Mistake(arguments: ["frobnicate"], status: 64, message: "Unexpected argument"),
    ]

    @Test(arguments: mistakes)
    func reportsOneClearLine(mistake: Mistake) throws {
        let result = try Peerdist.run(mistake.arguments)
        #expect(result.status == mistake.status)
        #expect(result.errorLines.first?.contains(mistake.message) == true, "stderr: \(result.standardError)")
        #expect(!result.standardError.contains("Stack") && !result.standardError.contains("Fatal error"))
    }

    @Test func malformedBlobNamesTheField() throws {
        let scratch = try ScratchDirectory()
        let blob = try scratch.file("bad.ci", bytes: [0x00, 0x01, 0x0C, 0x80, 0, 0] + [UInt8](repeating: 0, count: 12) + [0xFF])
        let result = try Peerdist.run("info", blob)
        #expect(result.status == 1)
        #expect(result.errorLines.count == 1)
        #expect(result.standardError.contains("trailing bytes") || result.standardError.contains("at byte 18"), "\(result.standardError)")
    }

    /// A mutated IIS version 2 blob whose ullIndexOfFirstSegment is past Int.max once trapped `info`.
    @Test func fuzzedBlobIsRefusedNotATrap() throws {
        let hex = Array("""
            000204000000000000ffffffff0000000000000000000000000000000000000000000088000099dee0d0c358e2684b62330d32b5f1978724a0d0a52bdc5e781fae71ff57a8be3dd458037ed404116bb616d9b14116088520c47cdc50abcea3fae188a98ea22df3c00000eba03381d0d0cb74f4b613d8210f37f002a06f3910586096a130d34398c08e66d7bcb8b6eb7783e4f807647b63f146b52f4ac89ccc7abf5fa11acafc2acf5028586c
            """.utf8)
        let bytes = try stride(from: 0, to: hex.count, by: 2).map { try #require(UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)) }
        let scratch = try ScratchDirectory()
        let result = try Peerdist.run("info", try scratch.file("fuzzed.ci", bytes: bytes))
        #expect(result.status == 1)
        #expect(result.errorLines.count == 1)
        #expect(result.standardError.contains("ullIndexOfFirstSegment at byte 11"), "\(result.standardError)")
    }

    @Test func keyExportRoundTripsAndNeverOverwrites() throws {
        let scratch = try ScratchDirectory()
        let file = scratch.child("server.key")
        let secret = "2a3d73eb435e9f2b8a344267e7467a3c7385c6e055e2b4d30dfec7c38b0ed72c"
        #expect(try Peerdist.run("key", "export", "--secret-hex", secret, "--passphrase", "pw", "-o", file).status == 0)
        let imported = try Peerdist.run("key", "import", file, "--passphrase", "pw")
        #expect(imported.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == secret)
        let wrong = try Peerdist.run("key", "import", file, "--passphrase", "nope")
        #expect(wrong.status == 1 && wrong.standardError.contains("passphrase does not open"))
        let again = try Peerdist.run("key", "export", "--passphrase", "pw", "-o", file)
        #expect(again.status == 1 && again.standardError.contains("already exists"))
        // The secret in a key file drives hashing exactly as the hex secret does.
        let content = try scratch.file("c", bytes: Array(repeating: 7, count: 1000))
        let viaFile = try Peerdist.run("hash", content, "--key-file", file, "--passphrase", "pw", "-o", "-")
        let viaHex = try Peerdist.run("hash", content, "--secret-hex", secret, "-o", "-")
        #expect(viaFile.status == 0 && viaFile.output == viaHex.output)
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["c", "server.key"])
    }
}
