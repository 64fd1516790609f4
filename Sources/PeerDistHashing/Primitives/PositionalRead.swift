#if canImport(Glibc)
import Glibc
#endif

/// `pread(2)` until a buffer is full or the file ends, retrying interrupted calls: the one loop
/// behind every module's positional reads, each of which turns a failure into its own error.
package enum PositionalRead {
    /// Fills `buffer` from `offset` of the open file `descriptor`: the bytes read (fewer only at
    /// the end of the file), or the `errno` of the call that failed.
    package static func fill(_ buffer: UnsafeMutableRawBufferPointer, from descriptor: Int32, at offset: UInt64) -> Result<Int, PositionalReadFailure> {
        guard let base = buffer.baseAddress else { return .success(0) }
        var done = 0
        while done < buffer.count {
            let result = pread(descriptor, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if result > 0 {
                done += result
            } else if result == 0 {
                break
            } else if errno != EINTR {
                return .failure(PositionalReadFailure(errno: errno))
            }
        }
        return .success(done)
    }
}

package struct PositionalReadFailure: Error {
    package let errno: Int32
}
