/// rsync's weak checksum of a window of bytes: `a` the sum of the bytes, `b` the sum of each byte
/// times its distance from the window's end, both modulo 2¹⁶, as `a | b << 16`.
///
/// It can be rolled one byte along in constant time, which is what lets a delta find a base
/// block at any offset of a chunk in one pass. It is weak (collisions are easy to make), so a
/// match is always confirmed with the block's strong checksum.
struct RollingChecksum {
    private var a: UInt32 = 0
    private var b: UInt32 = 0
    /// The window's length, fixed while rolling.
    let length: Int

    init(_ window: UnsafeBufferPointer<UInt8>) {
        length = window.count
        var weight = UInt32(truncatingIfNeeded: window.count)
        for byte in window {
            a &+= UInt32(byte)
            b &+= weight &* UInt32(byte)
            weight &-= 1
        }
    }

    init(_ window: ArraySlice<UInt8>) {
        self = window.withUnsafeBufferPointer { RollingChecksum($0) }
    }

    var value: UInt32 { (a & 0xFFFF) | (b << 16) }

    /// Moves the window one byte on: `outgoing` was its first byte, `incoming` follows its last.
    /// Only the low 16 bits of each sum matter, so wrapping arithmetic is exact.
    mutating func roll(out outgoing: UInt8, in incoming: UInt8) {
        a = a &- UInt32(outgoing) &+ UInt32(incoming)
        b = b &- UInt32(truncatingIfNeeded: length) &* UInt32(outgoing) &+ a
    }
}
