import PeerDistHashing

/// Reads big-endian fields from a root or page that came from the network, checking every length
/// against what remains; a failure names the field and the byte offset where it went wrong.
struct ManifestReader {
    private let bytes: [UInt8]
    private(set) var offset = 0
    /// What is being read, for messages: "the manifest root", "page 1f2e…".
    let subject: String

    init(_ bytes: [UInt8], subject: String) {
        self.bytes = bytes
        self.subject = subject
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    /// A `.malformed` error (or another `code`) at the current offset.
    func failure(_ reason: String, code: MirrorError.Code = .malformed, at position: Int? = nil) -> MirrorError {
        MirrorError(code, "\(subject), byte \(position ?? offset): \(reason)")
    }

    // Field names are autoclosures: they often quote a path, which only a failure should pay for.

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(MirrorError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw failure("ends inside the \(field())") }
        var value: UInt64 = 0
        for index in offset..<offset + size {
            value = value << 8 | UInt64(bytes[index])
        }
        offset += size
        return T(truncatingIfNeeded: value)
    }

    mutating func bytes(_ count: Int, _ field: @autoclosure () -> String) throws(MirrorError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw failure("the \(field()) needs \(count) bytes, only \(remaining) remain")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func hash(_ field: @autoclosure () -> String) throws(MirrorError) -> HashValue {
        HashValue(try bytes(32, field()))
    }
}
