import PeerDistHashing

/// Which blocks of a content are held, by block number (see `ContentLayout`), and its file form.
///
/// File: `"PDBITMP1"` ‖ content ID (32) ‖ block count (8, big-endian) ‖ one bit per block, block
/// `n` in bit `n % 8` of byte `n / 8` ‖ the first 8 bytes of SHA-256 of everything before. The file
/// is written atomically, so the checksum guards against disk damage and stray files, not tearing.
struct BlockBitmap: Hashable, Sendable {
    static let magic = Array("PDBITMP1".utf8)

    private var bytes: [UInt8]
    let count: Int
    private(set) var heldCount: Int

    init(count: Int) {
        self.count = count
        self.bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
        self.heldCount = 0
    }

    var isComplete: Bool { heldCount == count }

    /// Every block held.
    static func full(count: Int) -> BlockBitmap {
        var bitmap = BlockBitmap(count: count)
        for index in bitmap.bytes.indices { bitmap.bytes[index] = 0xFF }
        if count % 8 != 0, !bitmap.bytes.isEmpty { bitmap.bytes[bitmap.bytes.count - 1] = UInt8((1 << (count % 8)) - 1) }
        bitmap.heldCount = count
        return bitmap
    }

    /// The bits alone: block `n` in bit `n % 8` of byte `n / 8`.
    var bitBytes: [UInt8] { bytes }

    func contains(_ number: Int) -> Bool {
        bytes[number >> 3] & (1 << UInt8(number & 7)) != 0
    }

    /// Marks a block held; returns false when it already was.
    @discardableResult
    mutating func insert(_ number: Int) -> Bool {
        guard !contains(number) else { return false }
        bytes[number >> 3] |= 1 << UInt8(number & 7)
        heldCount += 1
        return true
    }

    mutating func remove(_ number: Int) {
        guard contains(number) else { return }
        bytes[number >> 3] &= ~(1 << UInt8(number & 7))
        heldCount -= 1
    }

    func encoded(for id: ContentID) -> [UInt8] {
        var encoded = Self.magic + id.value.bytes
        withUnsafeBytes(of: UInt64(count).bigEndian) { encoded.append(contentsOf: $0) }
        encoded += bytes
        encoded += HashAlgorithm.sha256.digest(encoded).bytes.prefix(8)
        return encoded
    }

    /// The bitmap a file holds, or nil when the file is damaged or belongs to other content.
    init?(decoding encoded: [UInt8], for id: ContentID, count: Int) {
        let bitBytes = (count + 7) / 8
        let headerSize = Self.magic.count + ContentID.byteCount + 8
        guard encoded.count == headerSize + bitBytes + 8 else { return nil }
        let body = Array(encoded[..<(headerSize + bitBytes)])
        guard Array(body[..<Self.magic.count]) == Self.magic,
              Array(body[Self.magic.count..<Self.magic.count + ContentID.byteCount]) == id.value.bytes,
              body[(headerSize - 8)..<headerSize].reduce(UInt64(0), { $0 << 8 | UInt64($1) }) == UInt64(count),
              HashAlgorithm.sha256.digest(body).bytes.prefix(8).elementsEqual(encoded[(headerSize + bitBytes)...])
        else { return nil }
        self.count = count
        self.bytes = Array(body[headerSize...])
        // Bits past the last block would be counted as held blocks that do not exist.
        if count % 8 != 0, let last = bytes.last, last >> UInt8(count % 8) != 0 { return nil }
        self.heldCount = bytes.reduce(0) { $0 + $1.nonzeroBitCount }
    }
}
