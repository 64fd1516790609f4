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
        // Reads of at most the file's size: a read allocates all it may return, and 4 MiB for
        // each of 20 000 small files costs minutes.
        var information = stat()
        let size = stat(first, &information) == 0 ? Int(information.st_size) : 1 << 22
        let step = max(1, min(1 << 22, size + 1))
        do {
            while true {
                // `nil` means the end of the file.
                let left = try a.read(upToCount: step) ?? Data()
                let right = try b.read(upToCount: step) ?? Data()
                if left != right { return false }
                if left.isEmpty { return true }
            }
        } catch {
            return false
        }
    }
}
