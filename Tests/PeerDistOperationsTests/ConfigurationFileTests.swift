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
        #expect(throws: ConfigurationFileError(path: "p.toml", line: 3, message: "listen: expected a string, a number or a boolean, found an array")) {
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

    @Test func readsEveryKindOfTOMLScalar() throws {
        let text = #"""
            a = """
             one\
               two \u00e9\U0001F600""""
            b = '''
            C:\dir
            ''x'''
            c = "tab\there" # note
            'd e' = 'lit\eral'
            f = 0xDEAD_beef
            g = 0o17
            h = 0b1010
            i = +1_000
            j = -6.02e+23
            k = 1E-5
            l = -inf
            m = false
            n = -9223372036854775808
            o = 0x7FFFFFFFFFFFFFFF
            p = 3.0
            """#.replacingOccurrences(of: "c = ", with: "\r\nc = ")
        let file = try ConfigurationFile(path: "p.toml", text: text)
        let values = Dictionary(uniqueKeysWithValues: file.settings.map { ($0.key, $0.value) })
        #expect(values["a"] == .string(" onetwo é😀\""))
        #expect(values["b"] == .string("C:\\dir\n''x"))
        #expect(values["c"] == .string("tab\there"))
        #expect(values["d e"] == .string(#"lit\eral"#))
        #expect(values["f"] == .integer(0xDEADBEEF))
        #expect(values["g"] == .integer(0o17))
        #expect(values["h"] == .integer(10))
        #expect(values["i"] == .integer(1000))
        #expect(values["j"] == .float(-6.02e23))
        #expect(values["k"] == .float(1e-5))
        #expect(values["l"] == .float(-.infinity))
        #expect(values["m"] == .boolean(false))
        #expect(values["n"] == .integer(.min))
        #expect(values["o"] == .integer(.max))
        #expect(values["p"] == .float(3))
        // A multi-line string's key is on the line it starts on; the CRLF before c adds an empty line.
        #expect(file.settings.map(\.line) == [1, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    }

    @Test func refusesMalformedTOMLWithItsLine() {
        let cases: [(text: String, line: Int, message: String)] = [
            ("a = 1\na = 2\n", 2, "not TOML: a: set twice, on lines 1 and 2"),
            ("a = 01\n", 1, "not TOML: a: '01' has a leading zero, which TOML does not allow"),
            ("a = 9223372036854775808\n", 1, "not TOML: a: 9223372036854775808 does not fit in 64 bits"),
            ("a = 0x1_\n", 1, "not TOML: a: '0x1_' is not a base-16 integer"),
            ("a = 1e999\n", 1, "not TOML: a: 1e999 is out of a float's range"),
            ("a = 1.\n", 1, "not TOML: a: '1.' is not a TOML value (strings are quoted)"),
            ("a = yes\n", 1, "not TOML: a: 'yes' is not a TOML value (strings are quoted)"),
            ("\n\na = \"open\n", 3, "not TOML: a string that is not closed on its line"),
            (#"a = "\q""# + "\n", 1, "not TOML: an unknown escape in a string: a backslash, then 'q'"),
            (#"a = "\uD800""# + "\n", 1, #"not TOML: an escape \u that is not 4 hexadecimal digits of a Unicode scalar value"#),
            ("a = \"\u{1}\"\n", 1, "not TOML: a control character (0x01) in a string; write it as an escape"),
            ("a = 1 b = 2\n", 1, "not TOML: expected the end of the line after the value of a"),
            ("a 1\n", 1, "not TOML: expected '=' after the key a"),
            ("= 1\n", 1, "not TOML: expected a key name, found '='"),
            ("a = 1\r\n# \u{7}\n", 2, "not TOML: a control character (0x07) in a comment"),
            ("a = 1\rb = 2\n", 1, "not TOML: a carriage return that is not followed by a line feed"),
            ("a = '''x''''''\n", 1, "not TOML: too many quotes (6) at the end of a multi-line string"),
            ("a.b = 1\n", 1, "a.b: expected settings at the top level, not in a table"),
            ("[[peers]]\n", 1, "[[peers]]: expected settings at the top level, not in a table"),
            ("a = { b = 1 }\n", 1, "a: expected a string, a number or a boolean, found an inline table"),
            ("a = 07:32:00\n", 1, "a: expected a string, a number or a boolean, found a date or time"),
        ]
        for (text, line, message) in cases {
            #expect(throws: ConfigurationFileError(path: "p.toml", line: line, message: message), "\(text.debugDescription)") {
                try ConfigurationFile(path: "p.toml", text: text)
            }
        }
    }

    /// FuzzConfigurationFile's first finding, which was its own: it counted lines as Swift splits
    /// a String, where "\r\n" is one character, and found this key "on line 3 of 2".
    @Test func linesAreCountedAtEveryLineFeedOfCRLFText() throws {
        let file = try ConfigurationFile(path: "p.toml", text: "# a n\"maNNNNN ]= 8#e\r\n\r\nis=32.5\n")
        #expect(file.settings == [.init(key: "is", value: .float(32.5), line: 3)])
    }

    @Test func everyValueWrittenBackReadsTheSame() throws {
        let values: [ConfigurationFile.Setting.Value] = [
            .string("plain"), .string("quote \" back\\slash\ttab\u{1}\u{7F}é"), .string(""),
            .integer(0), .integer(.min), .integer(.max), .boolean(true), .boolean(false),
            .float(2.5), .float(1e-5), .float(-6.02e23), .float(.infinity), .float(-0.0), .float(1e300),
        ]
        for value in values {
            let file = try ConfigurationFile(path: "p.toml", text: "key = \(value.tomlText)\n")
            #expect(file.settings == [.init(key: "key", value: value, line: 1)], "\(value.tomlText)")
        }
    }

    @Test func aFileTooLargeToBeSettingsIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-config-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("peerdist.toml").path
        try Data(repeating: UInt8(ascii: "#"), count: ConfigurationFile.maximumSize + 1).write(to: URL(fileURLWithPath: path))
        #expect(throws: ConfigurationFileError(path: path, line: nil, message: "is \(ConfigurationFile.maximumSize + 1) bytes; a configuration file is at most \(ConfigurationFile.maximumSize)")) {
            try ConfigurationFile.load(path: path)
        }
    }

    @Test func noFileIsNoConfiguration() throws {
        #expect(try ConfigurationFile.load(path: "/nonexistent/peerdist.toml") == nil)
    }
}
