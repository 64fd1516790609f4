import Foundation

/// Whether a leecher ended up with exactly the original bytes. A byte comparison rather than a
/// hash: both files are in memory (tmpfs), and comparing is cheaper than hashing either.
package enum FileComparison {
    package static func identical(_ first: String, _ second: String) -> Bool {
        guard let a = FileHandle(forReadingAtPath: first), let b = FileHandle(forReadingAtPath: second) else { return false }
        defer {
            try? a.close()
            try? b.close()
        }
        do {
            while true {
                // `nil` means the end of the file.
                let left = try a.read(upToCount: 1 << 22) ?? Data()
                let right = try b.read(upToCount: 1 << 22) ?? Data()
                if left != right { return false }
                if left.isEmpty { return true }
            }
        } catch {
            return false
        }
    }
}
