import CMappedHash

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

    /// The SHA-256 of each `blockSize` block of `[offset, offset + length)` (the last block may be
    /// shorter), hashed straight from a mapping of the file, into `digests`; false when the file
    /// cannot be mapped here, for the caller to read it instead. `offset` is a multiple of the
    /// page size.
    ///
    /// A file truncated meanwhile is an error, as with `read`: the pages past its new end fault,
    /// and the fault is caught (see `peerdist_sha256_blocks_of_mapping`).
    func sha256Blocks(at offset: UInt64, length: Int, blockSize: Int, into digests: UnsafeMutableBufferPointer<HashValue>) throws(FileHashingError) -> Bool {
        guard length > 0 else { return true }
        guard let mapping = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, off_t(offset)), mapping != MAP_FAILED else { return false }
        defer { munmap(mapping, length) }
        #if os(Linux)
        // Read ahead of the hashing, for a file that is not in the page cache.
        _ = madvise(mapping, length, MADV_SEQUENTIAL)
        _ = madvise(mapping, length, MADV_WILLNEED)
        #endif
        let count = (length + blockSize - 1) / blockSize
        precondition(digests.count >= count)
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 32, alignment: 8)
        defer { raw.deallocate() }
        guard let output = raw.baseAddress?.assumingMemoryBound(to: UInt8.self),
              peerdist_sha256_blocks_of_mapping(mapping, length, blockSize, output) == 0
        else {
            throw FileHashingError(path: path, reason: "the file shrank while it was being read")
        }
        for index in 0..<count {
            digests[index] = HashValue(UnsafeRawBufferPointer(rebasing: raw[index * 32..<(index + 1) * 32]))
        }
        return true
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
