import CSystemCalls
import PeerDistHashing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An open directory of a mirrored tree, and every operation a mirror performs on names inside it.
///
/// Everything is relative to the directory's descriptor (`openat`, `mkdirat`, `renameat`,
/// `unlinkat`, …) and never follows a symbolic link: a directory opened through a handle is opened
/// with `O_DIRECTORY | O_NOFOLLOW`, so a local change that swaps a directory for a link to
/// `/etc` makes the open fail instead of leading writes outside the tree.
///
/// Failures become `MirrorError`s naming the full path; a name that is absent is reported as
/// `nil` where callers have to tell that case apart.
final class DirectoryHandle: Sendable {
    let descriptor: Int32
    /// The directory's path, for messages only: operations never resolve it again.
    let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        close(descriptor)
    }

    /// Opens the root of a tree. The root's own path is the caller's choice and may pass through
    /// symbolic links; nothing below it does.
    static func open(root path: String) throws(MirrorError) -> DirectoryHandle {
        let descriptor = retryingInterrupts { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard descriptor >= 0 else {
            let number = errno
            if number == ENOENT { throw MirrorError(.notFound, "\(path): no such directory", errno: number) }
            throw .system("cannot open directory", path: path, errno: number)
        }
        return DirectoryHandle(descriptor: descriptor, path: path)
    }

    /// The full path of `name`, for messages.
    func display(_ name: String) -> String {
        path.hasSuffix("/") ? path + name : "\(path)/\(name)"
    }

    // MARK: Looking

    /// The directory `name`, or nil when it is absent or not a real directory (a file, or a link
    /// even to a directory).
    func openDirectory(_ name: String) throws(MirrorError) -> DirectoryHandle? {
        let descriptor = retryingInterrupts {
            openat(self.descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        if descriptor >= 0 { return DirectoryHandle(descriptor: descriptor, path: display(name)) }
        switch errno {
        case ENOENT, ENOTDIR, ELOOP: return nil
        case let number: throw .system("cannot open directory", path: display(name), errno: number)
        }
    }

    /// The directory at the relative path `components` below this one, or nil when any of them
    /// is absent or not a real directory.
    func openDirectory(components: some Sequence<Substring>) throws(MirrorError) -> DirectoryHandle? {
        var current = self
        for component in components {
            guard let next = try current.openDirectory(String(component)) else { return nil }
            current = next
        }
        return current
    }

    /// `lstat` of `name`; nil when it does not exist.
    func status(_ name: String) throws(MirrorError) -> PathStatus? {
        var status = stat()
        guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .system("cannot stat", path: display(name), errno: errno)
        }
        return PathStatus(status)
    }

    /// The `fstat` of this directory itself.
    func status() throws(MirrorError) -> PathStatus {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat", path: path, errno: errno) }
        return PathStatus(status)
    }

    /// The target of the symbolic link `name`, as raw bytes.
    func readLink(_ name: String) throws(MirrorError) -> [UInt8] {
        var capacity = 256
        while true {
            var failure: Int32 = 0
            let target = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                let result = buffer.withMemoryRebound(to: CChar.self) { characters in
                    guard let base = characters.baseAddress else { return -1 }
                    return readlinkat(descriptor, name, base, capacity)
                }
                if result < 0 { failure = errno }
                count = max(0, result)
            }
            if failure != 0 { throw .system("cannot read link", path: display(name), errno: failure) }
            if target.count < capacity { return target }
            capacity *= 4
        }
    }

    /// The names in this directory, without `.` and `..`, as raw bytes (a name need not be UTF-8).
    func names() throws(MirrorError) -> [[UInt8]] {
        // `fdopendir` takes ownership of the descriptor it is given, so it gets a duplicate.
        let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard duplicate >= 0 else { throw .system("cannot list", path: path, errno: errno) }
        guard let stream = fdopendir(duplicate) else {
            let number = errno
            close(duplicate)
            throw .system("cannot list", path: path, errno: number)
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw .system("cannot list", path: path, errno: errno) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name != [0x2E], name != [0x2E, 0x2E] { names.append(name) }
        }
    }

    // MARK: Changing

    /// Opens the regular file `name` without following a link in its place.
    func openFile(_ name: String, flags: Int32, mode: mode_t = 0o600) throws(MirrorError) -> OpenFile {
        let descriptor = retryingInterrupts { openat(self.descriptor, name, flags | O_NOFOLLOW | O_CLOEXEC, mode) }
        guard descriptor >= 0 else { throw .system("cannot open", path: display(name), errno: errno) }
        return OpenFile(descriptor: descriptor, path: display(name))
    }

    /// Opens the regular file at the relative path `path` (`a/b/c`) below this directory without
    /// following a link anywhere on the way; nil when a component is absent, not a directory, a
    /// link, empty, `.` or `..`.
    ///
    /// One `openat2` call resolving beneath this directory, where the kernel has it (5.6 and
    /// later); else one `O_NOFOLLOW` component at a time.
    func openFile(relativePath path: String, flags: Int32) throws(MirrorError) -> OpenFile? {
        // Tree paths name every component plainly; anything else is no path of the tree.
        // As bytes: as Characters, a "/" followed by a combining mark is no "/" at all.
        let components = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !components.contains(where: { $0.isEmpty || $0.elementsEqual([UInt8(ascii: ".")]) || $0.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) })
        else { return nil }
        if Self.kernelResolvesBeneath.load(ordering: .relaxed) {
            let descriptor = retryingInterrupts { peerdist_open_beneath(self.descriptor, path, flags | O_NOFOLLOW | O_CLOEXEC, 0) }
            if descriptor >= 0 { return OpenFile(descriptor: descriptor, path: display(path)) }
            switch errno {
            // Not in this kernel, or refused by a seccomp filter (older container runtimes).
            case ENOSYS, EPERM: Self.kernelResolvesBeneath.store(false, ordering: .relaxed)
            // Absent, a file on the way, or a link on the way (ELOOP) or out (EXDEV).
            case ENOENT, ENOTDIR, ELOOP, EXDEV: return nil
            case let number: throw .system("cannot open", path: display(path), errno: number)
            }
        }
        let (parentPath, name) = TreeWalker.split(path)
        guard let parent = try openDirectory(components: parentPath.byteComponents) else { return nil }
        do throws(MirrorError) {
            return try parent.openFile(name, flags: flags)
        } catch where error.hasErrno(ENOENT) || error.hasErrno(ELOOP) {
            return nil
        }
    }

    /// Cleared at the first ENOSYS or EPERM (and by tests of the fallback).
    static let kernelResolvesBeneath = Atomic<Bool>(true)

    func makeDirectory(_ name: String, mode: mode_t) throws(MirrorError) {
        guard mkdirat(descriptor, name, mode) == 0 else {
            throw .system("cannot create directory", path: display(name), errno: errno)
        }
    }

    func makeSymlink(_ name: String, target: String) throws(MirrorError) {
        guard symlinkat(target, descriptor, name) == 0 else {
            throw .system("cannot create symbolic link", path: display(name), errno: errno)
        }
    }

    /// Renames `name` to `newName` in `directory`, replacing a file or link there (never a
    /// non-empty directory). Both ends stay on this tree's descriptors.
    func rename(_ name: String, to directory: DirectoryHandle, as newName: String) throws(MirrorError) {
        guard renameat(descriptor, name, directory.descriptor, newName) == 0 else {
            throw .system("cannot rename to \(directory.display(newName))", path: display(name), errno: errno)
        }
    }

    /// Renames `name` to `newName` in `directory` when nothing is there yet, in one call; false
    /// when something is, or when the file system cannot tell (the caller looks, then `rename`s).
    func renameIfAbsent(_ name: String, to directory: DirectoryHandle, as newName: String) throws(MirrorError) -> Bool {
        guard peerdist_rename_if_absent(descriptor, name, directory.descriptor, newName) == 0 else {
            switch errno {
            case EEXIST, EINVAL, ENOSYS, EOPNOTSUPP: return false
            case let code: throw .system("cannot rename to \(directory.display(newName))", path: display(name), errno: code)
            }
        }
        return true
    }

    /// Removes the file or link `name`; an absent name is not an error.
    func removeFile(_ name: String) throws(MirrorError) {
        guard unlinkat(descriptor, name, 0) == 0 || errno == ENOENT else {
            throw .system("cannot remove", path: display(name), errno: errno)
        }
    }

    /// Removes the empty directory `name`; the error's errno is ENOTEMPTY when it holds anything.
    func removeDirectory(_ name: String) throws(MirrorError) {
        guard unlinkat(descriptor, name, AT_REMOVEDIR) == 0 else {
            throw .system("cannot remove directory", path: display(name), errno: errno)
        }
    }

    /// Removes `name` and, if it is a directory, everything below it, following no link; an
    /// absent name is not an error.
    func removeTree(_ name: String) throws(MirrorError) {
        try removeTree(bytes: Array(name.utf8))
    }

    /// `removeTree` by the name's raw bytes, so names that are not UTF-8 go too.
    private func removeTree(bytes name: [UInt8]) throws(MirrorError) {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        let shown = display(String(decoding: name, as: UTF8.self))
        var status = stat()
        guard fstatat(descriptor, cName, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw .system("cannot stat", path: shown, errno: errno)
        }
        var flags: Int32 = 0
        if (status.st_mode & S_IFMT) == S_IFDIR {
            let child = retryingInterrupts { openat(self.descriptor, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard child >= 0 else { throw .system("cannot open directory", path: shown, errno: errno) }
            let directory = DirectoryHandle(descriptor: child, path: shown)
            for entry in try directory.names() {
                try directory.removeTree(bytes: entry)
            }
            flags = AT_REMOVEDIR
        }
        guard unlinkat(descriptor, cName, flags) == 0 || errno == ENOENT else {
            throw .system("cannot remove", path: shown, errno: errno)
        }
    }

    /// Sets the modification time of `name` itself (a link's own time, not its target's); the
    /// access time is left alone.
    func setModified(_ name: String, to time: FileTime) throws(MirrorError) {
        var times = [Glibc.timespec(tv_sec: 0, tv_nsec: utimeOmit), time.timespec]
        guard utimensat(descriptor, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw .system("cannot set modification time", path: display(name), errno: errno)
        }
    }

    /// Sets this directory's own permission bits and modification time.
    func setAttributes(mode: UInt32, modified: FileTime) throws(MirrorError) {
        try setDescriptorAttributes(descriptor, mode: mode, modified: modified, path: path)
    }

    /// Makes the directory's entries durable. Best effort: some file systems refuse to sync
    /// directories, and nothing can be done about it.
    func sync() {
        _ = fsync(descriptor)
    }

    /// Makes everything written to this directory's file system durable: all files at once.
    func syncFileSystem() throws(MirrorError) {
        guard peerdist_syncfs(descriptor) == 0 else { throw .system("cannot flush the file system", path: path, errno: errno) }
    }

    /// Throws `.noSpace` unless the file system has `bytes` free for an unprivileged writer, so
    /// an update that cannot fit says so before it starts. (Others may still fill the disk
    /// meanwhile; writes handle that too.)
    func ensureSpace(for bytes: UInt64) throws(MirrorError) {
        var status = statvfs()
        guard fstatvfs(descriptor, &status) == 0 else { throw .system("cannot read the free space", path: path, errno: errno) }
        let free = UInt64(status.f_bavail) * UInt64(status.f_frsize)
        guard bytes <= free else {
            throw MirrorError(.noSpace, "\(path): no space left on device: the update needs \(bytes) bytes, \(free) are free", errno: ENOSPC)
        }
    }
}

/// An open regular file of a mirrored tree, for positional reads and writes.
final class OpenFile: Sendable {
    let descriptor: Int32
    let path: String

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        close(descriptor)
    }

    func status() throws(MirrorError) -> PathStatus {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat", path: path, errno: errno) }
        return PathStatus(status)
    }

    /// Fills `buffer` from `offset`; returns how many bytes it read, fewer only at the end of
    /// the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(MirrorError) -> Int {
        switch PositionalRead.fill(buffer, from: descriptor, at: offset) {
        case .success(let count): return count
        case .failure(let failure): throw .system("cannot read", path: path, errno: failure.errno)
        }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(MirrorError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let result = pwrite(descriptor, base + done, bytes.count - done, off_t(offset) + off_t(done))
            if result >= 0 {
                done += result
            } else if errno != EINTR {
                throw .system("cannot write", path: path, errno: errno)
            }
        }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: UInt64) throws(MirrorError) {
        var failure: MirrorError?
        bytes.withUnsafeBytes { raw in
            do throws(MirrorError) {
                try write(raw, at: offset)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    func setAttributes(mode: UInt32, modified: FileTime) throws(MirrorError) {
        try setDescriptorAttributes(descriptor, mode: mode, modified: modified, path: path)
    }

    /// Makes the file's bytes and attributes durable.
    func sync() throws(MirrorError) {
        guard fsync(descriptor) == 0 else { throw .system("cannot flush to disk", path: path, errno: errno) }
    }
}

/// `UTIME_OMIT`, which Swift cannot import: leaves that one of the two times unchanged.
private let utimeOmit = (1 << 30) - 2

/// Sets the permission bits and modification time of an open file or directory; the access time
/// is left alone.
private func setDescriptorAttributes(_ descriptor: Int32, mode: UInt32, modified: FileTime, path: String) throws(MirrorError) {
    guard fchmod(descriptor, mode_t(mode)) == 0 else {
        throw .system("cannot set mode", path: path, errno: errno)
    }
    var times = [Glibc.timespec(tv_sec: 0, tv_nsec: utimeOmit), modified.timespec]
    guard futimens(descriptor, &times) == 0 else {
        throw .system("cannot set modification time", path: path, errno: errno)
    }
}

/// Repeats a system call that failed with EINTR.
private func retryingInterrupts(_ call: () -> Int32) -> Int32 {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

extension String {
    /// The `/`-separated components of a tree path, split on the byte as the kernel splits it
    /// (`split(separator: "/")` splits Characters, and a "/" followed by a combining mark is
    /// none), empty ones left out.
    var byteComponents: [Substring] {
        utf8.split(separator: UInt8(ascii: "/")).map { Substring(String(decoding: $0, as: UTF8.self)) }
    }
}
