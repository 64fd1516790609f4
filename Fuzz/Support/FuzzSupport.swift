/// What every fuzz target shares: the entry point that hands a test function to libFuzzer (built
/// with `-DFUZZING` by `scripts/fuzz`) or, in an ordinary build, replays files through it, and
/// the checks a target makes of what a decoder accepted.
///
/// A target's `main.swift` is one call: `Fuzzing.main(test, seeds: makeSeeds)`. The test gets
/// each input's bytes; a decoder refusing them with its typed error is fine, anything else (a
/// trap, a sanitizer report, a failed `check`) is a finding.
#if FUZZING
import CLibFuzzer
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

public enum Fuzzing {
    /// Runs `test` under libFuzzer (with `-DFUZZING`), or otherwise:
    ///
    /// - `TARGET FILE|DIRECTORY…` runs `test` on each file (a directory's files in name order);
    /// - `TARGET --write-seeds DIRECTORY` writes the inputs `seeds` makes, named by their keys.
    public static func main(_ test: @escaping ([UInt8]) -> Void, seeds: () -> [String: [UInt8]]) -> Never {
        #if FUZZING
        // libFuzzer calls back through a C function pointer, which cannot capture `test`.
        Storage.test = test
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            // libFuzzer passes a null pointer for some empty inputs.
            Storage.test?(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        })
        #else
        exit(replay(Array(CommandLine.arguments.dropFirst()), test: test, seeds: seeds))
        #endif
    }

    /// Traps with `message` unless `condition` holds: how a target reports a broken property
    /// (a round trip that changed the value, an output a decoder's guarantees rule out).
    public static func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
        if !condition { fatalError(message(), file: file, line: line) }
    }

    /// Reads a big-endian integer of `count` bytes from the front of `bytes`, 0 past their end:
    /// how a target lets the fuzzer choose a mode or a size with a few leading bytes.
    public static func take(_ count: Int, from bytes: inout ArraySlice<UInt8>) -> Int {
        var value = 0
        for _ in 0..<count {
            value = value << 8 | Int(bytes.popFirst() ?? 0)
        }
        return value
    }

    #if FUZZING
    private enum Storage {
        // Set once before libFuzzer starts, and read only from its single fuzzing thread.
        nonisolated(unsafe) static var test: (([UInt8]) -> Void)?
    }
    #endif

    private static func replay(_ arguments: [String], test: ([UInt8]) -> Void, seeds: () -> [String: [UInt8]]) -> Int32 {
        let name = CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent } ?? "fuzzer"
        if arguments.first == "--write-seeds" {
            guard arguments.count == 2 else { return usage(name) }
            let directory = URL(fileURLWithPath: arguments[1], isDirectory: true)
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for (seedName, bytes) in seeds().sorted(by: { $0.key < $1.key }) {
                    try Data(bytes).write(to: directory.appendingPathComponent(seedName))
                }
            } catch {
                FileHandle.standardError.write(Data("\(name): cannot write seeds: \(error)\n".utf8))
                return 1
            }
            return 0
        }
        guard !arguments.isEmpty, !arguments.contains(where: { $0.hasPrefix("-") }) else { return usage(name) }
        var files: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("\(name): no such file: \(argument)\n".utf8))
                return 1
            }
            if isDirectory.boolValue {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
                files += entries.sorted().map { "\(argument)/\($0)" }.filter { path in
                    var isDirectory: ObjCBool = false
                    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                }
            } else {
                files.append(argument)
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("\(name): cannot read \(file)\n".utf8))
                return 1
            }
            test(Array(data))
        }
        print("\(name): \(files.count) inputs replayed, no finding")
        return 0
    }

    private static func usage(_ name: String) -> Int32 {
        FileHandle.standardError.write(Data("usage: \(name) FILE|DIRECTORY…\n       \(name) --write-seeds DIRECTORY\n".utf8))
        return 2
    }
}
