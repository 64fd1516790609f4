/// Reads the big-endian fields of the signature and delta formats, which travel inside peer
/// messages, checking every read against what remains; a failure is a `WireError` naming the
/// field and byte where it went wrong. (`BigEndianWriter` encodes them.)
struct DeltaReader {
    private let bytes: [UInt8]
    private(set) var offset = 0
    /// What is being read, for messages: "chunk signature", "chunk delta".
    let subject: String

    init(_ bytes: [UInt8], subject: String) {
        self.bytes = bytes
        self.subject = subject
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    func failure(_ reason: String, at position: Int? = nil) -> WireError {
        WireError("\(subject), byte \(position ?? offset): \(reason)")
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw failure("ends inside the \(field)") }
        var value: UInt64 = 0
        for index in offset..<offset + size {
            value = value << 8 | UInt64(bytes[index])
        }
        offset += size
        return T(truncatingIfNeeded: value)
    }

    mutating func bytes(_ count: Int, _ field: String) throws(WireError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw failure("the \(field) needs \(count) bytes, only \(remaining) remain") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}
