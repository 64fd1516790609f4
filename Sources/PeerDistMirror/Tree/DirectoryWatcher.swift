#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Tells a publisher when the files under a directory have changed and settled, with inotify.
///
/// The watcher reports only *that* something changed: the publisher then rescans the tree
/// (stat'ing every file, rehashing only changed ones), so a missed event, a directory created
/// before its watch was added or a queue overflow costs nothing but that rescan.
package final class DirectoryWatcher: Sendable {
    private let descriptor: Int32
    let root: String
    /// How long the tree must stay quiet before a change is reported, and how long a stream of
    /// changes may postpone that at most.
    let settle: Duration
    let maximumDelay: Duration

    static let events: UInt32 = {
        let changes: Int32 = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE
        let moves: Int32 = IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF
        return UInt32(changes | moves) | UInt32(IN_DONT_FOLLOW) | UInt32(IN_ONLYDIR)
    }()

    package init(root: String, settle: Duration = .milliseconds(300), maximumDelay: Duration = .seconds(5)) throws(MirrorError) {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw MirrorError.system("watch for changes", path: root, errno: errno) }
        self.root = root
        self.settle = settle
        self.maximumDelay = maximumDelay
    }

    deinit {
        close(descriptor)
    }

    /// Watches every directory under the root; call again after a rescan to cover new ones
    /// (a directory already watched keeps its watch).
    package func watchTree() {
        var pending = [root]
        while let directory = pending.popLast() {
            guard inotify_add_watch(descriptor, directory, Self.events) >= 0 else { continue }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names where !name.hasPrefix(".peerdist-") {
                let path = "\(directory)/\(name)"
                var status = stat()
                if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { pending.append(path) }
            }
        }
    }

    /// Waits until something under the root changed and then stayed quiet for `settle`
    /// (or `maximumDelay` passed since the first change). Throws when cancelled.
    package func nextChange() async throws {
        var firstChange: ContinuousClock.Instant?
        var lastChange = ContinuousClock.now
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            try await Task.sleep(for: .milliseconds(50))
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            let now = ContinuousClock.now
            if count > 0, Self.hasRelevantEvent(buffer[..<count]) {
                firstChange = firstChange ?? now
                lastChange = now
            }
            if let first = firstChange, now - lastChange >= settle || now - first >= maximumDelay { return }
        }
    }

    /// Whether any event in the batch is about something other than the follower-side scratch
    /// names (`.peerdist-…`), which never belong to the tree.
    static func hasRelevantEvent(_ bytes: ArraySlice<UInt8>) -> Bool {
        let header = MemoryLayout<inotify_event>.size
        var offset = bytes.startIndex
        while offset + header <= bytes.endIndex {
            let (mask, nameLength) = bytes.withUnsafeBytes { raw in
                let event = raw.loadUnaligned(fromByteOffset: offset - bytes.startIndex, as: inotify_event.self)
                return (event.mask, Int(event.len))
            }
            let nameStart = offset + header
            let name = bytes[nameStart..<min(bytes.endIndex, nameStart + nameLength)].prefix { $0 != 0 }
            if mask & UInt32(IN_Q_OVERFLOW) != 0 || !name.starts(with: Array(".peerdist-".utf8)) { return true }
            offset = nameStart + nameLength
        }
        return false
    }
}
