import Foundation
import PeerDistCommandSupport
import PeerDistTestHosts

/// Puts trees and their changes on disk through plain system calls (a tree has tens of thousands
/// of entries, and every mode and time must come out exactly as planned): contents from the
/// files' seeds, written from one reused buffer, so a GiB takes about a second.
final class MirrorTreeWriter {
    private static let bufferSize = 4 << 20
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: MirrorTreeWriter.bufferSize, alignment: 16)

    deinit {
        buffer.deallocate()
    }

    /// Writes `layout` into `root`, which is created and must not exist yet.
    func write(_ layout: MirrorTreeLayout, to root: String) throws {
        try Self.check(mkdir(root, 0o755), root)
        for directory in layout.directories {
            try Self.check(mkdir("\(root)/\(directory.path)", 0o755), directory.path)
        }
        for (index, file) in layout.files.enumerated() {
            if index % 256 == 0 { try BenchInterruption.shared.check() }
            try writeFile("\(root)/\(file.path)", size: file.size, seed: file.contentSeed, mode: file.mode, modified: file.modified)
        }
        for link in layout.symlinks {
            let path = "\(root)/\(link.path)"
            try Self.check(symlink(link.target, path), link.path)
            try Self.setTime(path, link.modified)
        }
        // Last, deepest first: writing into a directory sets its time, and a mode could forbid it.
        for directory in layout.directories.reversed() {
            let path = "\(root)/\(directory.path)"
            try Self.check(chmod(path, directory.mode), directory.path)
            try Self.setTime(path, directory.modified)
        }
    }

    /// Creates or replaces the file at `path` with `size` bytes of the stream seeded by `seed`.
    func writeFile(_ path: String, size: Int, seed: UInt64, mode: UInt32, modified: TreeTime) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try Self.check(descriptor, path)
        defer { close(descriptor) }
        var random = PseudoRandom(seed: seed)
        var remaining = size
        while remaining > 0 {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<min(remaining, buffer.count)])
            random.fill(piece)
            try Self.writeAll(descriptor, UnsafeRawBufferPointer(piece), at: nil, path: path)
            remaining -= piece.count
        }
        try Self.check(fchmod(descriptor, mode), path)
        var times = [modified.timespec, modified.timespec]
        try Self.check(futimens(descriptor, &times), path)
    }

    /// Inserts `count` bytes of the stream seeded by `seed` at `offset` of the file at `path`,
    /// moving what follows, and sets its time.
    func insert(into path: String, offset: Int, count: Int, seed: UInt64, modified: TreeTime) throws {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        try Self.check(descriptor, path)
        defer { close(descriptor) }
        var information = stat()
        try Self.check(fstat(descriptor, &information), path)
        let tailLength = Int(information.st_size) - offset
        precondition(tailLength >= 0 && count <= buffer.count)
        let tail = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, tailLength), alignment: 16)
        defer { tail.deallocate() }
        var done = 0
        while done < tailLength {
            let read = pread(descriptor, tail.baseAddress! + done, tailLength - done, off_t(offset + done))
            guard read > 0 else { throw CommandFailure("\(path): cannot read: \(String(cString: strerror(errno)))") }
            done += read
        }
        var random = PseudoRandom(seed: seed)
        let inserted = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
        random.fill(inserted)
        try Self.writeAll(descriptor, UnsafeRawBufferPointer(inserted), at: offset, path: path)
        try Self.writeAll(descriptor, UnsafeRawBufferPointer(rebasing: tail[..<tailLength]), at: offset + count, path: path)
        var times = [modified.timespec, modified.timespec]
        try Self.check(futimens(descriptor, &times), path)
    }

    /// Sets the modification (and access) time of `path` itself, a symbolic link included.
    static func setTime(_ path: String, _ time: TreeTime) throws {
        var times = [time.timespec, time.timespec]
        try check(utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW), path)
    }

    /// Throws the system's reason when a call returned -1.
    static func check(_ result: Int32, _ path: String) throws {
        guard result >= 0 else { throw CommandFailure("\(path): \(String(cString: strerror(errno)))") }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int?, path: String) throws {
        var done = 0
        while done < bytes.count {
            let written = offset.map { pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t($0 + done)) }
                ?? Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw CommandFailure("\(path): cannot write: \(String(cString: strerror(errno)))") }
            done += written
        }
    }
}
