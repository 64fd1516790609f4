import Foundation

/// Whether a follower's tree is the publisher's: the same paths, each of the same kind; files
/// and directories with the same permission bits and modification time (to the nanosecond),
/// files with the same bytes, symbolic links with the same target. Owners are not compared
/// (everything runs as root), nor the roots' own mode and time, nor links' times and modes. A
/// follower's own `.peerdist-…` names at the top are not part of its tree.
package enum TreeComparison {
    package struct Entry: Equatable {
        package enum Kind: String {
            case file, directory, symlink = "symbolic link", other = "special file"
        }

        package let kind: Kind
        package let mode: UInt32
        package let modified: TreeTime
        package let size: Int
        package let target: String?
    }

    /// Every entry below `root` (not `root` itself), by path relative to it.
    package static func entries(under root: String) throws(TreeComparisonFailure) -> [String: Entry] {
        var entries: [String: Entry] = [:]
        var pending = [""]
        while let directory = pending.popLast() {
            let absolute = directory.isEmpty ? root : "\(root)/\(directory)"
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: absolute)
            } catch {
                throw TreeComparisonFailure("cannot list \(absolute): \(error.localizedDescription)")
            }
            for name in names where !(directory.isEmpty && name.hasPrefix(".peerdist-")) {
                let path = directory.isEmpty ? name : "\(directory)/\(name)"
                let entry = try self.entry(at: "\(root)/\(path)")
                entries[path] = entry
                if entry.kind == .directory { pending.append(path) }
            }
        }
        return entries
    }

    /// The first difference between the trees at `original` and `copy`, as one line; `nil` when
    /// they are identical.
    package static func firstDifference(_ original: String, _ copy: String) -> String? {
        do {
            return firstDifference(original: original, entries: try entries(under: original), copy: copy)
        } catch {
            return "\(error)"
        }
    }

    /// The first difference between the tree at `copy` and the one at `original` (whose entries
    /// are given), in path order, as one line; `nil` when they are identical.
    package static func firstDifference(original: String, entries originalEntries: [String: Entry], copy: String) -> String? {
        let copyEntries: [String: Entry]
        do {
            copyEntries = try entries(under: copy)
        } catch {
            return "\(error)"
        }
        for path in Set(originalEntries.keys).union(copyEntries.keys).sorted() {
            guard let expected = originalEntries[path] else { return "\(path): not on the publisher" }
            guard let found = copyEntries[path] else { return "\(path): missing" }
            if let difference = difference(expected, found) { return "\(path): \(difference)" }
            if expected.kind == .file, !FileComparison.identical("\(original)/\(path)", "\(copy)/\(path)") {
                return "\(path): different bytes"
            }
        }
        return nil
    }

    private static func difference(_ expected: Entry, _ found: Entry) -> String? {
        if expected.kind != found.kind { return "a \(found.kind.rawValue) where the publisher has a \(expected.kind.rawValue)" }
        switch expected.kind {
        case .symlink:
            if expected.target != found.target { return "links to \(found.target ?? "?") instead of \(expected.target ?? "?")" }
            return nil
        case .file where expected.size != found.size:
            return "\(found.size) bytes instead of \(expected.size)"
        default:
            if expected.mode != found.mode { return "mode \(String(found.mode, radix: 8)) instead of \(String(expected.mode, radix: 8))" }
            if expected.modified != found.modified { return "modified at \(found.modified) instead of \(expected.modified)" }
            return nil
        }
    }

    private static func entry(at path: String) throws(TreeComparisonFailure) -> Entry {
        var information = stat()
        guard lstat(path, &information) == 0 else { throw TreeComparisonFailure("\(path): \(String(cString: strerror(errno)))") }
        let kind: Entry.Kind
        var target: String?
        switch information.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK:
            kind = .symlink
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(path, &buffer, buffer.count - 1)
            target = length >= 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        default: kind = .other
        }
        return Entry(
            kind: kind, mode: UInt32(information.st_mode) & 0o7777,
            modified: TreeTime(seconds: Int(information.st_mtim.tv_sec), nanoseconds: Int(information.st_mtim.tv_nsec)),
            size: kind == .file ? Int(information.st_size) : 0, target: target)
    }
}

package struct TreeComparisonFailure: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
