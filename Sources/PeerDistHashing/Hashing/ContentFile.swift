#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be hashed, naming the file and what the system said.
public struct FileHashingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    static func system(_ operation: String, path: String, errno code: Int32) -> FileHashingError {
        FileHashingError(path: path, reason: "\(operation): \(String(cString: strerror(code)))")
    }

    public var description: String { "\(path): \(reason)" }
}

/// A regular file opened for positional reads, which several threads may issue at once.
final class ContentFile: Sendable {
    let path: String
    let size: UInt64
    private let descriptor: Int32

    init(path: String) throws(FileHashingError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open", path: path, errno: errno) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw .system("cannot stat", path: path, errno: code)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw FileHashingError(path: path, reason: "not a regular file")
        }
        #if os(Linux)
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        self.path = path
        self.descriptor = descriptor
        self.size = UInt64(status.st_size)
    }

    deinit {
        close(descriptor)
    }

    /// Fills `buffer` from `offset`; a short read means the file shrank under us, which is an error
    /// rather than a silently different hash.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(FileHashingError) {
        switch PositionalRead.fill(buffer, from: descriptor, at: offset) {
        case .success(let count) where count < buffer.count:
            throw FileHashingError(path: path, reason: "the file shrank while it was being read")
        case .success:
            return
        case .failure(let failure):
            throw .system("cannot read", path: path, errno: failure.errno)
        }
    }
}
