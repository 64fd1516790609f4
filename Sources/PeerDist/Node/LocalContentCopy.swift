#if canImport(Glibc)
import Glibc
#endif
import PeerDistHashing

/// A content fetched by ID may already lie on this node whole, as a file of one of its mirrors
/// or snapshots: its blocks are then copied from there instead of being fetched again.
///
/// Only files of the content's exact size are tried (a content names a whole file, and the same
/// bytes always make the same content), and every block copied is verified by the download
/// target against the Content Information, as a block from a peer is: a file that changed, or
/// that merely has the same size, gives nothing wrong, only fewer blocks. Files are opened
/// without following a final symbolic link.
enum LocalContentCopy {
    /// Copies into `target` the missing blocks that `paths`' bytes verify for, trying each file
    /// in turn until the content is whole; returns the bytes copied.
    static func fill(_ target: any DownloadTarget, information: ContentInformation, from paths: [String]) -> UInt64 {
        guard information.range.lowerBound == 0 else { return 0 }
        var copied: UInt64 = 0
        var buffer = [UInt8]()
        for path in paths where target.heldBytes < target.totalBytes {
            let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            var status = stat()
            guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, UInt64(status.st_size) == information.range.upperBound else { continue }
            segments: for (segmentIndex, segment) in information.segments.enumerated() {
                for block in 0..<segment.blockCount where !target.isHeld(segment: segmentIndex, block: block) {
                    let range = segment.blockRange(block)
                    let length = Int(range.upperBound - range.lowerBound)
                    buffer = [UInt8](repeating: 0, count: length)
                    let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, length, off_t(range.lowerBound)) }
                    // Shorter than when it was sized: the file is changing; the next one may do.
                    guard read == length else { continue segments }
                    do {
                        try target.write(segment: segmentIndex, block: block, bytes: buffer)
                        copied += UInt64(length)
                    } catch {
                        // Not this content's bytes at this place (or the store failed): the
                        // block is fetched from peers instead.
                        continue
                    }
                }
            }
        }
        return copied
    }
}
