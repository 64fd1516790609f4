import Foundation
import PeerDistOperations
import Testing

@Suite struct ConfigurationFileTests {
    @Test func readsTopLevelScalarsWithTheirLines() throws {
        let file = try ConfigurationFile(path: "p.toml", text: """
            # comment
            quota = "20GiB"

              "max-upload" = '5MiB'
            verbose = true
            branchcache-port = 80
            presence-heartbeat = 2.5
            """)
        #expect(file.settings == [
            .init(key: "quota", value: .string("20GiB"), line: 2),
            .init(key: "max-upload", value: .string("5MiB"), line: 4),
            .init(key: "verbose", value: .boolean(true), line: 5),
            .init(key: "branchcache-port", value: .integer(80), line: 6),
            .init(key: "presence-heartbeat", value: .float(2.5), line: 7),
        ])
        #expect(file.setting("branchcache-port")?.value.argument == "80")
    }

    @Test func refusesWhatIsNotAScalarSetting() {
        #expect(throws: ConfigurationFileError(path: "p.toml", line: 2, message: "[serve]: expected settings at the top level, not in a table")) {
            try ConfigurationFile(path: "p.toml", text: "quota = \"1GiB\"\n[serve]\nweb = 1\n")
        }
        #expect(throws: ConfigurationFileError(path: "p.toml", line: 3, message: "listen: expected a string, a number or a boolean, found array")) {
            try ConfigurationFile(path: "p.toml", text: "\n\nlisten = [1, 2]\n")
        }
        // A key of the table after a header is not mistaken for a top-level one.
        #expect(throws: ConfigurationFileError(path: "p.toml", line: 1, message: "[a]: expected settings at the top level, not in a table")) {
            try ConfigurationFile(path: "p.toml", text: "[a]\nquota = 1\n")
        }
    }

    @Test func aParseErrorNamesItsLine() throws {
        let error = try #require(throws: ConfigurationFileError.self) {
            try ConfigurationFile(path: "p.toml", text: "quota = \"1GiB\"\nweb = \n")
        }
        #expect(error.line == 2)
        #expect(error.description.hasPrefix("p.toml:2: not TOML: "))
        #expect(!error.description.contains("\n"))
    }

    @Test func noFileIsNoConfiguration() throws {
        #expect(try ConfigurationFile.load(path: "/nonexistent/peerdist.toml") == nil)
    }
}
