import PeerDistHashing

/// Appends big-endian fields to bytes being encoded: manifest roots and pages, chunk signatures
/// and deltas.
struct BigEndianWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ hash: HashValue) {
        hash.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func append(contentsOf raw: some Collection<UInt8>) {
        bytes.append(contentsOf: raw)
    }
}
