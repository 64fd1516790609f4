import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes a whole file so that readers see either nothing or every byte: the bytes go to a
/// temporary file beside the destination, are flushed to disk, and only then renamed into place.
/// A crash, a full disk or a kill leaves no partial file at the destination.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        /// The system error number behind the failure, so callers can tell a full disk (ENOSPC)
        /// or an existing destination (EEXIST) from other failures without parsing `reason`.
        public let errorNumber: Int32?

        public init(path: String, reason: String, errorNumber: Int32? = nil) {
            self.path = path
            self.reason = reason
            self.errorNumber = errorNumber
        }

        public var description: String { "\(path): \(reason)" }
    }

    /// Writes `bytes` to `path`. With `replacing: false` an existing file is an error and is left untouched.
    public static func write(_ bytes: [UInt8], to path: String, replacing: Bool = true) throws(WriteError) {
        let temporary = temporaryPath(for: path)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw error("cannot create \(temporary)", path: path) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let failure = error("cannot write", path: path)
                close(descriptor)
                unlink(temporary)
                throw failure
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            let failure = error("cannot flush to disk", path: path)
            close(descriptor)
            unlink(temporary)
            throw failure
        }
        close(descriptor)
        try commit(temporary, to: path, replacing: replacing)
    }

    /// Renames a finished temporary file into place; never replaces an existing file unless asked.
    public static func commit(_ temporary: String, to path: String, replacing: Bool) throws(WriteError) {
        let result = replacing ? rename(temporary, path) : link(temporary, path)
        if result != 0 {
            let failure = errno == EEXIST
                ? WriteError(path: path, reason: "already exists (remove it or choose another output path)", errorNumber: EEXIST)
                : error("cannot move the finished file into place", path: path)
            unlink(temporary)
            throw failure
        }
        if !replacing { unlink(temporary) }
        syncDirectory(of: path)
    }

    /// Flushes the directory holding `path`, so the rename itself survives a crash. Best effort:
    /// some file systems refuse to sync directories, and the file's bytes are already durable.
    public static func syncDirectory(of path: String) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// A hidden name in the destination's directory, so the final rename never crosses file systems.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        return "\(directory)/.\(url.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    private static func error(_ what: String, path: String) -> WriteError {
        let number = errno
        return WriteError(path: path, reason: "\(what): \(String(cString: strerror(number)))", errorNumber: number)
    }
}
