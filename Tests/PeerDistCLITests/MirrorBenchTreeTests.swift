import Foundation
import Testing

/// The trees `peerdist-bench mirror` distributes must be the same in every run and for every
/// method: written twice from one seed, they are identical to the byte, mode and nanosecond.
@Suite struct MirrorBenchTreeTests {
    static let options = ["--size", "12MiB", "--small-files", "1000"]

    @Test func theSameSeedWritesTheSameTrees() throws {
        let scratch = try ScratchDirectory()
        let first = try write(into: scratch.child("first"), seed: 7)
        let second = try write(into: scratch.child("second"), seed: 7)
        let other = try write(into: scratch.child("other"), seed: 8)
        #expect(first.output == second.output)

        for tree in ["tree", "changed", "small"] {
            let listing = try Self.listing(scratch.child("first/\(tree)"))
            #expect(!listing.isEmpty)
            #expect(listing == (try Self.listing(scratch.child("second/\(tree)"))), "\(tree) differs between two runs")
        }
        let tree = try Self.listing(scratch.child("first/tree"))
        #expect(tree != (try Self.listing(scratch.child("other/tree"))), "another seed wrote the same tree")
        #expect(other.output != first.output)

        // The whole size is in regular files; links and empty directories are there too.
        #expect(tree.values.compactMap { $0.bytes?.count }.reduce(0, +) == 12 << 20)
        #expect(tree.values.contains { $0.hasPrefix("link") })
        // The change touches 1 % of the files: rewritten, added, deleted and renamed ones among them.
        let changed = try Self.listing(scratch.child("first/changed"))
        let differing = Set(tree.keys).union(changed.keys).filter { tree[$0] != changed[$0] && !(tree[$0] ?? changed[$0]!).hasPrefix("directory") }
        #expect((10...14).contains(differing.count), "\(differing.sorted())")
        #expect(differing.contains { tree[$0] == nil } && differing.contains { changed[$0] == nil })
        #expect(differing.contains { tree[$0]?.bytes != nil && changed[$0]?.bytes != nil && tree[$0]?.bytes != changed[$0]?.bytes })
    }

    private func write(into directory: String, seed: Int) throws -> (output: String, status: Int32) {
        let result = try Peerdist.runTool([Peerdist.bench.path, "mirror", "--write-tree", directory, "--seed", "\(seed)"] + Self.options)
        #expect(result.status == 0, "\(result.standardError)")
        return (result.standardOutput, result.status)
    }

    struct Entry: Equatable {
        /// Kind, mode, modification time to the nanosecond and size, or the link target.
        let description: String
        let bytes: Data?

        func hasPrefix(_ prefix: String) -> Bool { description.hasPrefix(prefix) }
    }

    /// Every entry below `root`.
    static func listing(_ root: String) throws -> [String: Entry] {
        var entries: [String: Entry] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            let absolute = "\(root)/\(path)"
            var information = stat()
            guard lstat(absolute, &information) == 0 else { throw CocoaError(.fileReadUnknown) }
            let time = "\(information.st_mtim.tv_sec).\(information.st_mtim.tv_nsec)"
            let mode = String(information.st_mode & 0o7777, radix: 8)
            switch information.st_mode & S_IFMT {
            case S_IFREG:
                let bytes = try Data(contentsOf: URL(fileURLWithPath: absolute))
                entries[path] = Entry(description: "file \(mode) \(time) \(bytes.count)", bytes: bytes)
            case S_IFDIR:
                entries[path] = Entry(description: "directory \(mode) \(time)", bytes: nil)
            case S_IFLNK:
                entries[path] = Entry(description: "link " + (try FileManager.default.destinationOfSymbolicLink(atPath: absolute)), bytes: nil)
            default:
                entries[path] = Entry(description: "other", bytes: nil)
            }
        }
        return entries
    }
}
