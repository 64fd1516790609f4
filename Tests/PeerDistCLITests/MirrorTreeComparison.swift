import Foundation

/// Compares two directory trees the way a mirror promises to keep them: the same paths, types,
/// permission bits, modification times, symlink targets and file bytes. The follower's own
/// `.peerdist-…` names at the top are not part of the tree.
enum MirrorTreeComparison {
    /// The first difference, or nil when the trees are the same.
    static func firstDifference(_ left: String, _ right: String) -> String? {
        let leftPaths = paths(under: left)
        let rightPaths = paths(under: right)
        if leftPaths != rightPaths {
            let missing = leftPaths.subtracting(rightPaths).sorted().prefix(3)
            let extra = rightPaths.subtracting(leftPaths).sorted().prefix(3)
            return "paths differ: missing \(Array(missing)), extra \(Array(extra))"
        }
        for path in leftPaths.sorted() {
            var a = stat()
            var b = stat()
            guard lstat("\(left)/\(path)", &a) == 0, lstat("\(right)/\(path)", &b) == 0 else { return "\(path): cannot stat" }
            let type = a.st_mode & S_IFMT
            guard type == b.st_mode & S_IFMT else { return "\(path): types differ" }
            if type == S_IFLNK {
                let targets = [left, right].map { try? FileManager.default.destinationOfSymbolicLink(atPath: "\($0)/\(path)") }
                if targets[0] != targets[1] { return "\(path): links to \(targets[0] ?? "?") and \(targets[1] ?? "?")" }
                continue
            }
            if a.st_mode & 0o7777 != b.st_mode & 0o7777 {
                return "\(path): modes \(String(a.st_mode & 0o7777, radix: 8)) and \(String(b.st_mode & 0o7777, radix: 8))"
            }
            if a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec {
                return "\(path): modification times \(a.st_mtim.tv_sec).\(a.st_mtim.tv_nsec) and \(b.st_mtim.tv_sec).\(b.st_mtim.tv_nsec)"
            }
            if type == S_IFREG, !PublishFetchTests.sameBytes("\(left)/\(path)", "\(right)/\(path)") { return "\(path): contents differ" }
        }
        return nil
    }

    static func paths(under root: String) -> Set<String> {
        var result = Set<String>()
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return result }
        while let path = enumerator.nextObject() as? String {
            if path.hasPrefix(".peerdist-") {
                enumerator.skipDescendants()
                continue
            }
            result.insert(path)
        }
        return result
    }
}
