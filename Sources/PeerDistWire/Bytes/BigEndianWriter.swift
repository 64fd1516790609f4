import PeerDistHashing

/// Appends big-endian fields to bytes being encoded: manifest roots and pages, chunk signatures
/// and deltas.
package struct BigEndianWriter {
    package private(set) var bytes: [UInt8] = []

    package init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func append(_ hash: HashValue) {
        hash.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    package mutating func append(contentsOf raw: some Collection<UInt8>) {
        bytes.append(contentsOf: raw)
    }
}
