import FuzzSupport
import PeerDistOperations

/// `peerdist.toml`, as `serve` and `config show` read it (its TOML reader): any text is refused
/// with a `ConfigurationFileError` or read into top-level scalar settings, each once, each on a
/// line of the file; and every value read, written back as TOML, reads back the same.
func fuzz(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    guard let file = try? ConfigurationFile(path: "fuzz.toml", text: text) else { return }
    let keys = file.settings.map(\.key)
    Fuzzing.check(Set(keys).count == keys.count, "a key was read twice: \(keys)")
    // Counted in bytes: a String splits "\r\n" as one character, not at its line feed.
    let lines = input.count { $0 == UInt8(ascii: "\n") } + 1
    var previousLine = 0
    for setting in file.settings {
        Fuzzing.check((1...lines).contains(setting.line), "\(setting.key) is said to be on line \(setting.line) of \(lines)")
        Fuzzing.check(setting.line > previousLine, "\(setting.key) on line \(setting.line) is out of the file's order")
        previousLine = setting.line
        let written = ConfigurationFile.Setting.Value.string(setting.key).tomlText + " = " + setting.value.tomlText + "\n"
        let reread = try? ConfigurationFile(path: "fuzz.toml", text: written)
        let value = reread?.settings.first?.value
        Fuzzing.check(reread?.settings.count == 1 && reread?.settings.first?.key == setting.key, "\(setting.key) written as \(written) reads back as \(String(describing: reread?.settings))")
        Fuzzing.check(value == setting.value || (value.map(isNaN) ?? false) && isNaN(setting.value), "\(setting.value) written as \(written) reads back as \(String(describing: value))")
    }
}

func isNaN(_ value: ConfigurationFile.Setting.Value) -> Bool {
    if case .float(let number) = value { return number.isNaN }
    return false
}

func makeSeeds() -> [String: [UInt8]] {
    [
        "serve": Array("# a node\nquota = \"20GiB\"\nlisten = \"[::]:7740\"\nverbose = true\nbranchcache-port = 80\npresence-heartbeat = 2.5\n".utf8),
        "table": Array("quota = \"1GiB\"\n[serve]\nweb = 8740\n".utf8),
        "quoted": Array("\"max-upload\" = '5MiB'\n'metrics' = \"127.0.0.1:9740\"\n".utf8),
        "array": Array("listen = [\"[::]:1\", 2]\n".utf8),
        "strings": Array("a = \"\"\"\n one\\\n   two \\u00e9\\U0001F600\"\"\"\"\nb = '''\r\nC:\\dir'''\nc = \"tab\\there\" # note\r\n".utf8),
        "numbers": Array("a = 0xDEAD_beef\nb = 0o17\nc = 0b1010\nd = +1_000\ne = -6.02e+23\nf = 1E-5\ng = -inf\nh = nan\n".utf8),
        "date": Array("when = 1979-05-27T07:32:00Z\n".utf8),
    ]
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
