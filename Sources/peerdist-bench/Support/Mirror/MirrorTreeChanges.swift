import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// The edit `peerdist-bench mirror` makes to the publisher's tree between the initial mirror and
/// the second phase: 1 % of the files, drawn from the tree's seed, so every method gets the very
/// same change. A couple of large files get a few bytes inserted in their middle; of the rest,
/// half are small files rewritten with new bytes (same size, new time), a fifth new small files,
/// and the others small files deleted or renamed (moved, often to another directory).
///
/// `changedBytes` is what a perfect delta would carry: inserted bytes, rewritten and added
/// files whole; nothing for deletions and renames.
struct MirrorTreeChanges {
    enum Change {
        case rewrite(path: String, size: Int, mode: UInt32, seed: UInt64)
        case insert(path: String, offset: Int, count: Int, seed: UInt64)
        case add(path: String, size: Int, mode: UInt32, seed: UInt64)
        case delete(path: String)
        case rename(from: String, to: String)
    }

    let changes: [Change]
    /// Of the files the tree had: how many the changes touch.
    let changedFileCount: Int
    let fileCount: Int

    /// The time changed files and directories get: 40 days after the tree's times, nanoseconds
    /// apart so that no two are equal.
    static func time(_ index: Int) -> TreeTime {
        TreeTime(seconds: TreeTime.base + 40 * 86_400, nanoseconds: 1_000 * index + 7)
    }

    init(layout: MirrorTreeLayout) {
        var random = PseudoRandom(seed: layout.seed, stream: 4)
        let files = layout.files
        fileCount = files.count
        let total = max(1, (files.count + 50) / 100)
        let large = files.filter(\.isLarge)
        let small = files.filter { !$0.isLarge }

        var changes: [Change] = []
        // A couple of large files: bytes inserted near the middle.
        var largeOrder = Array(large.indices)
        Self.shuffle(&largeOrder, using: &random)
        for index in largeOrder.prefix(min(2, total)) {
            let file = large[index]
            let offset = file.size / 2 + random.int(in: -(file.size / 8)...(file.size / 8))
            changes.append(.insert(path: file.path, offset: offset, count: random.int(in: 16...64), seed: random.next()))
        }

        let rest = min(total - changes.count, small.count)
        // At least one of each kind once there are enough changes to go round.
        let least = rest >= 4 ? 1 : 0
        let added = max(least, rest * 20 / 100)
        let deleted = max(least, rest * 15 / 100)
        let renamed = max(least, rest * 15 / 100)
        let rewritten = rest - added - deleted - renamed
        var smallOrder = Array(small.indices)
        Self.shuffle(&smallOrder, using: &random)
        var picked = smallOrder.prefix(rewritten + deleted + renamed).makeIterator()
        for _ in 0..<rewritten {
            let file = small[picked.next()!]
            changes.append(.rewrite(path: file.path, size: file.size, mode: file.mode, seed: random.next()))
        }
        for _ in 0..<deleted {
            changes.append(.delete(path: small[picked.next()!].path))
        }
        for index in 0..<renamed {
            let file = small[picked.next()!]
            let directory = layout.smallFileDirectories[random.below(layout.smallFileDirectories.count)]
            changes.append(.rename(from: file.path, to: MirrorTreeLayout.join(directory, String(format: "r%05d.dat", index))))
        }
        for index in 0..<added {
            let directory = layout.smallFileDirectories[random.below(layout.smallFileDirectories.count)]
            changes.append(.add(
                path: MirrorTreeLayout.join(directory, String(format: "new%05d.dat", index)), size: random.int(in: MirrorTreeLayout.smallFileSizes),
                mode: 0o644, seed: random.next()))
        }
        self.changes = changes
        changedFileCount = changes.count
    }

    var changedBytes: Int {
        changes.reduce(0) { sum, change in
            switch change {
            case .rewrite(_, let size, _, _), .add(_, let size, _, _): sum + size
            case .insert(_, _, let count, _): sum + count
            case .delete, .rename: sum
            }
        }
    }

    /// "200 of 20005 files: 2 large with 16–64 bytes inserted, 99 rewritten, …".
    var summary: String {
        var counts = (inserted: 0, rewritten: 0, added: 0, deleted: 0, renamed: 0)
        for change in changes {
            switch change {
            case .insert: counts.inserted += 1
            case .rewrite: counts.rewritten += 1
            case .add: counts.added += 1
            case .delete: counts.deleted += 1
            case .rename: counts.renamed += 1
            }
        }
        return "\(changedFileCount) of \(fileCount) files (\(counts.inserted) large with a few bytes inserted, \(counts.rewritten) small rewritten, "
            + "\(counts.added) added, \(counts.deleted) deleted, \(counts.renamed) renamed): \(ByteCount.format(changedBytes)) changed"
    }

    /// Makes the changes in the tree at `root` (as written from the layout they were drawn for).
    func apply(to root: String, with writer: MirrorTreeWriter) throws {
        for (index, change) in changes.enumerated() {
            let time = Self.time(index)
            switch change {
            case .rewrite(let path, let size, let mode, let seed), .add(let path, let size, let mode, let seed):
                try writer.writeFile("\(root)/\(path)", size: size, seed: seed, mode: mode, modified: time)
            case .insert(let path, let offset, let count, let seed):
                try writer.insert(into: "\(root)/\(path)", offset: offset, count: count, seed: seed, modified: time)
            case .delete(let path):
                try MirrorTreeWriter.check(unlink("\(root)/\(path)"), path)
            case .rename(let from, let to):
                try MirrorTreeWriter.check(rename("\(root)/\(from)", "\(root)/\(to)"), from)
            }
        }
        for directory in touchedDirectories {
            try MirrorTreeWriter.setTime(directory.isEmpty ? root : "\(root)/\(directory)", directoryTime)
        }
    }

    /// Directories whose entries the changes add, remove or rename ("" for the root), sorted.
    var touchedDirectories: [String] {
        var directories = Set<String>()
        for change in changes {
            switch change {
            case .rewrite, .insert: break
            case .add(let path, _, _, _), .delete(let path): directories.insert(MirrorTreeLayout.parent(of: path))
            case .rename(let from, let to): directories.formUnion([MirrorTreeLayout.parent(of: from), MirrorTreeLayout.parent(of: to)])
            }
        }
        return directories.sorted()
    }

    /// The modification time `apply` gives every touched directory.
    var directoryTime: TreeTime { Self.time(changes.count) }

    private static func shuffle(_ values: inout [Int], using random: inout PseudoRandom) {
        guard values.count > 1 else { return }
        for index in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(index, random.below(index + 1))
        }
    }
}
