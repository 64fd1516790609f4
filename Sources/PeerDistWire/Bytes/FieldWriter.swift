import NIOCore
import PeerDistHashing

/// Appends fixed-width fields to bytes being encoded: manifest roots, pages and diffs, chunk
/// signatures and deltas (big-endian, as they travel), and the files mirrors keep for themselves
/// (little-endian). The counterpart of `FieldReader`.
package struct FieldWriter {
    package private(set) var bytes: [UInt8] = []
    private let endianness: Endianness

    package init(capacity: Int = 0, endianness: Endianness = .big) {
        self.endianness = endianness
        bytes.reserveCapacity(capacity)
    }

    package mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: endianness == .big ? value.bigEndian : value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func append(_ hash: HashValue) {
        hash.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    package mutating func append(contentsOf raw: some Sequence<UInt8>) {
        bytes.append(contentsOf: raw)
    }
}
