/// Big-endian fields of the signature and delta formats, which travel inside peer messages: a
/// writer for encoding, and a reader for what a peer sent that checks every read against what
/// remains and names the field and byte where it went wrong.
struct DeltaWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(contentsOf raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }
}

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
