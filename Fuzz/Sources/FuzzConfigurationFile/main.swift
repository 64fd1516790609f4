import FuzzSupport
import PeerDistOperations

/// `peerdist.toml`, as `serve` and `config show` read it (TOMLKit's parser, then the settings):
/// any text is refused with a `ConfigurationFileError` or read into top-level scalar settings,
/// each once, each on a line of the file.
func fuzz(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    guard let file = try? ConfigurationFile(path: "fuzz.toml", text: text) else { return }
    let keys = file.settings.map(\.key)
    Fuzzing.check(Set(keys).count == keys.count, "a key was read twice: \(keys)")
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
    for setting in file.settings {
        Fuzzing.check((0...lines).contains(setting.line), "\(setting.key) is said to be on line \(setting.line) of \(lines)")
    }
}

func makeSeeds() -> [String: [UInt8]] {
    [
        "serve": Array("# a node\nquota = \"20GiB\"\nlisten = \"[::]:7740\"\nverbose = true\nbranchcache-port = 80\npresence-heartbeat = 2.5\n".utf8),
        "table": Array("quota = \"1GiB\"\n[serve]\nweb = 8740\n".utf8),
        "quoted": Array("\"max-upload\" = '5MiB'\n'metrics' = \"127.0.0.1:9740\"\n".utf8),
        "array": Array("listen = [\"[::]:1\", 2]\n".utf8),
    ]
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
