import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// The tree `peerdist-bench mirror` distributes, as a plan: every directory, file (its size,
/// mode, time, and the seed of its bytes) and symbolic link, drawn from one seed, so that every
/// method and every run gets exactly the same tree. `MirrorTreeWriter` puts it on disk.
///
/// Small files (1–16 KiB, about 20 to a directory) lie in nested directories up to five deep,
/// with a few symbolic links between them (one to a directory, one dangling) and a few empty
/// directories; large files (64–256 MiB when `size` allows, at least two) take the rest of
/// `size`, in `data/`. Contents are pseudo-random, so incompressible and free of repeats.
struct MirrorTreeLayout {
    struct Directory {
        let path: String
        let mode: UInt32
        let modified: TreeTime
    }

    struct File {
        let path: String
        let size: Int
        let mode: UInt32
        let modified: TreeTime
        /// Seeds the file's bytes (`PseudoRandom(seed:)`).
        let contentSeed: UInt64
        let isLarge: Bool
    }

    struct Symlink {
        let path: String
        let target: String
        let modified: TreeTime
    }

    static let smallFileSizes = 1024...16384
    /// Sizes large files are drawn around, when the size given leaves room for them.
    static let largeFileSizes = (64 << 20)...(256 << 20)

    let seed: UInt64
    /// Parents before their children; the root itself is not listed.
    let directories: [Directory]
    let files: [File]
    let symlinks: [Symlink]
    /// Where small files live (the root is ""), for files a change adds or renames.
    let smallFileDirectories: [String]

    var totalBytes: Int { files.reduce(0) { $0 + $1.size } }
    var largeFiles: [File] { files.filter(\.isLarge) }
    var smallFiles: [File] { files.filter { !$0.isLarge } }
    var emptyDirectoryCount: Int {
        let parents = Set(files.map { Self.parent(of: $0.path) } + symlinks.map { Self.parent(of: $0.path) } + directories.map { Self.parent(of: $0.path) })
        return directories.filter { !parents.contains($0.path) }.count
    }

    /// - Parameters:
    ///   - size: the whole tree's size, when `withLargeFiles`; large files take what the small ones leave.
    ///   - withLargeFiles: false for the tree of small files alone (the same ones as with large files).
    init(seed: UInt64, size: Int, smallFileCount: Int, withLargeFiles: Bool) throws {
        self.seed = seed
        var random = PseudoRandom(seed: seed, stream: 1)
        func time() -> TreeTime {
            TreeTime(seconds: TreeTime.base + random.below(30 * 86_400), nanoseconds: random.below(1_000_000_000))
        }

        // Directories for small files: each hangs below a random earlier one, at most five deep.
        var directories: [Directory] = []
        var smallFileDirectories = [""]
        var depth = ["": 0]
        for index in 0..<(smallFileCount / 20) {
            var parent = smallFileDirectories[random.below(smallFileDirectories.count)]
            while depth[parent, default: 0] >= 5 { parent = smallFileDirectories[random.below(smallFileDirectories.count)] }
            let path = Self.join(parent, String(format: "d%04d", index))
            depth[path] = depth[parent, default: 0] + 1
            smallFileDirectories.append(path)
            directories.append(Directory(path: path, mode: random.chance(3) ? 0o750 : 0o755, modified: time()))
        }

        var files: [File] = []
        for index in 0..<smallFileCount {
            let directory = smallFileDirectories[random.below(smallFileDirectories.count)]
            let name: String
            switch index {
            // A couple of names that are not plain ASCII words.
            case 1: name = "read me (draft \(index)).txt"
            case 2: name = "Ünïcödé ファイル \(index).txt"
            default: name = String(format: "f%05d.dat", index)
            }
            let kind = random.below(100)
            files.append(File(
                path: Self.join(directory, name), size: random.int(in: Self.smallFileSizes), mode: kind < 5 ? 0o755 : kind < 6 ? 0o600 : 0o644,
                modified: time(), contentSeed: PseudoRandom.seed(seed, stream: 2, index: UInt64(index)), isLarge: false))
        }

        // Empty directories, one of them inside another.
        let outer = Self.join(smallFileDirectories[random.below(smallFileDirectories.count)], "empty-0")
        var empty = [outer, Self.join(outer, "empty-1")]
        for index in 2..<4 {
            empty.append(Self.join(smallFileDirectories[random.below(smallFileDirectories.count)], "empty-\(index)"))
        }
        directories += empty.map { Directory(path: $0, mode: 0o755, modified: time()) }

        // Symbolic links, relative: to small files, the last but one to a directory, the last to nothing.
        var symlinks: [Symlink] = []
        let linkCount = smallFileCount >= 10 ? min(10, max(3, smallFileCount / 100)) : 0
        for index in 0..<linkCount {
            let directory = smallFileDirectories[random.below(smallFileDirectories.count)]
            let target: String
            if index == linkCount - 1 {
                target = "missing/nothing-here"
            } else if index == linkCount - 2 {
                target = smallFileDirectories[random.below(smallFileDirectories.count)]
            } else {
                target = files[random.below(files.count)].path
            }
            let up = String(repeating: "../", count: directory.isEmpty ? 0 : directory.split(separator: "/").count)
            symlinks.append(Symlink(path: Self.join(directory, String(format: "link-%02d", index)), target: up + (target.isEmpty ? "." : target), modified: time()))
        }

        if withLargeFiles {
            let smallBytes = files.reduce(0) { $0 + $1.size }
            let budget = size - smallBytes
            guard budget >= 1 << 20 else {
                throw CommandFailure(
                    "--size \(ByteCount.format(size)) leaves no room for large files beside \(smallFileCount) small ones (\(ByteCount.format(smallBytes))); give a larger --size or fewer --small-files")
            }
            let middle = (Self.largeFileSizes.lowerBound + Self.largeFileSizes.upperBound) / 2
            let count = budget >= 2 << 20 ? max(2, Int((Double(budget) / Double(middle)).rounded())) : 1
            let weights = (0..<count).map { _ in random.int(in: 500...1500) }
            let totalWeight = weights.reduce(0, +)
            var remaining = budget
            directories.append(Directory(path: "data", mode: 0o755, modified: time()))
            for (index, weight) in weights.enumerated() {
                let fileSize = index == count - 1 ? remaining : Int(Double(budget) * Double(weight) / Double(totalWeight))
                remaining -= fileSize
                files.append(File(
                    path: String(format: "data/large-%02d.bin", index), size: fileSize, mode: 0o644, modified: time(),
                    contentSeed: PseudoRandom.seed(seed, stream: 3, index: UInt64(index)), isLarge: true))
            }
        }

        self.directories = directories
        self.files = files
        self.symlinks = symlinks
        self.smallFileDirectories = smallFileDirectories
    }

    /// One line for reports: "1.0 GiB: 5 large files (…), 20000 small …".
    var summary: String {
        var parts: [String] = []
        let large = largeFiles
        if !large.isEmpty {
            let sizes = large.map(\.size)
            parts.append("\(large.count) large file\(large.count == 1 ? "" : "s") of \(ByteCount.format(sizes.min() ?? 0))–\(ByteCount.format(sizes.max() ?? 0))")
        }
        let small = smallFiles
        if !small.isEmpty {
            parts.append("\(small.count) small ones of 1–16 KiB (\(ByteCount.format(small.reduce(0) { $0 + $1.size })))")
        }
        parts.append("\(directories.count) directories (\(emptyDirectoryCount) empty)")
        parts.append("\(symlinks.count) symbolic links")
        return "\(ByteCount.format(totalBytes)): " + parts.joined(separator: ", ")
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.isEmpty ? name : "\(directory)/\(name)"
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }
}
