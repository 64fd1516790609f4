/// Reads fixed-width fields from an untrusted blob, checking every length against what remains.
///
/// Each read names the field it is for, so a failure says which field and where.
struct ByteCursor {
    private let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    mutating func readBytes(_ count: Int, field: String) throws(ContentInformationError) -> ArraySlice<UInt8> {
        guard count <= remaining else {
            throw ContentInformationError(
                .truncated, field: field, offset: offset,
                reason: "needs \(count) bytes, only \(remaining) remain")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func readHash(_ size: Int, field: String) throws(ContentInformationError) -> HashValue {
        HashValue(try readBytes(size, field: field))
    }

    mutating func readLittleEndian<T: FixedWidthInteger>(_: T.Type, field: String) throws(ContentInformationError) -> T {
        let slice = try readBytes(MemoryLayout<T>.size, field: field)
        return slice.reversed().reduce(T(0)) { $0 << 8 | T($1) }
    }

    mutating func readBigEndian<T: FixedWidthInteger>(_: T.Type, field: String) throws(ContentInformationError) -> T {
        let slice = try readBytes(MemoryLayout<T>.size, field: field)
        return slice.reduce(T(0)) { $0 << 8 | T($1) }
    }
}

/// Appends fixed-width fields to a growing blob.
struct ByteSink {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append<T: FixedWidthInteger>(bigEndian value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ hash: HashValue) {
        hash.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }
}
