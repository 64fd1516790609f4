import PeerDistHashing

#if canImport(Glibc)
import Glibc
#endif

/// Placing finished content where the user wants it, atomically: readers of the destination see
/// the old file or the whole new one, and a failure leaves nothing behind.
extension ContentStore {
    /// Puts complete cached content `id` at `destination`. The cache file is hard-linked to a
    /// temporary name beside the destination and renamed into place; across file systems it is
    /// copied there and synced first. With `replacing: false` an existing destination is an error.
    ///
    /// A hard link shares the cache's file: changing the exported file in place changes the cached
    /// copy too, which the store then finds corrupt and drops rather than serve.
    public func export(contentID id: ContentID, to destination: String, replacing: Bool) throws(StoreError) {
        let source = try state.withLock { (state) throws(StoreError) -> StoreFile in
            guard state.index.cache[id]?.isComplete == true else {
                throw StoreError(.notFound, "\(id.shortName) is not complete in the cache; nothing to export to \(destination)")
            }
            // Opened under the lock, so eviction cannot delete the file between lookup and use.
            return try StoreFile.open(cachePath(id, .data), flags: O_RDONLY)
        }
        let sourceStatus = try source.status()
        if let existing = try FileStatus.of(destination) {
            guard replacing else { throw StoreError(.exists, "\(destination): already exists", errno: EEXIST) }
            if existing.inode == sourceStatus.inode, existing.device == sourceStatus.device {
                // Already this file: renaming a link onto itself would do nothing and leave the temporary name.
                touch(id)
                return
            }
        }
        let temporary = AtomicFile.temporaryPath(for: destination)
        if link(source.path, temporary) != 0 {
            let linkError = errno
            // EXDEV: another file system. EPERM, EMLINK: hard links refused or exhausted.
            guard linkError == EXDEV || linkError == EPERM || linkError == EMLINK else {
                if linkError == ENOENT, try FileStatus.of(source.path) == nil {
                    throw StoreError(.notFound, "\(id.shortName) was removed from the cache while it was being exported to \(destination)", errno: ENOENT)
                }
                throw .system("cannot create", path: temporary, errno: linkError)
            }
            try copy(source, to: temporary, length: sourceStatus.size, for: destination)
        }
        do throws(AtomicFile.WriteError) {
            try AtomicFile.commit(temporary, to: destination, replacing: replacing)
        } catch {
            throw .atomicWrite(error)
        }
        touch(id)
    }

    /// Copies `source` to a new file at `temporary` and syncs it; removes it on any failure.
    /// A full disk is reported against `destination`, the path the caller knows.
    private func copy(_ source: StoreFile, to temporary: String, length: UInt64, for destination: String) throws(StoreError) {
        let target = try StoreFile.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL)
        do throws(StoreError) {
            let chunk: UInt64 = 1 << 20
            var offset: UInt64 = 0
            while offset < length {
                let bytes = try source.read(count: Int(min(chunk, length - offset)), at: offset)
                guard !bytes.isEmpty else {
                    throw StoreError(.io, "\(source.path): the cache file shrank while it was being exported")
                }
                try target.write(bytes, at: offset)
                offset += UInt64(bytes.count)
            }
            // Unwritten tails of a copy could still be delayed allocations; fsync makes ENOSPC show here.
            guard fsync(target.descriptor) == 0 else { throw StoreError.system("cannot flush to disk", path: temporary, errno: errno) }
        } catch {
            try? StorePaths.remove(temporary)
            if error.code == .noSpace { throw StoreError(.noSpace, "\(destination): no space left on device", errno: error.errno) }
            throw error
        }
    }
}
