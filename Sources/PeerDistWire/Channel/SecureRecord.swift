import Crypto
import NIOCore
import PeerDistHashing

/// The records of an established channel, and how a block crosses one encrypted once.
///
/// ```
/// record  length(4) body-length(4) header-ciphertext tag(16) [body-ciphertext tag(16)]
/// ```
/// The header (the message, or a block message's fields) is sealed under the direction's
/// record key with the record's sequence number as the nonce and `body-length` as associated
/// data. A block's bytes are the body, sealed once, under a key derived from both the
/// direction's block secret and the content's block key (`BlockChannelSecret`), with the same
/// sequence number as the nonce and the block's segment ID, index and flags as associated data:
/// only a holder of the channel's keys *and* of the content ID can read it, and it opens in no
/// other record, position or connection. docs/PROTOCOL.md gives the argument.

/// A record as the message layer hands it down.
package struct OutboundRecord {
    package var header: ByteBuffer
    /// A block's bytes and the key they are to be sealed under; nil for other messages.
    package var body: OutboundBody?

    package init(header: ByteBuffer, body: OutboundBody? = nil) {
        self.header = header
        self.body = body
    }
}

package struct OutboundBody {
    package var bytes: ByteBuffer
    package var sealing: BlockSealing

    package init(bytes: ByteBuffer, sealing: BlockSealing) {
        self.bytes = bytes
        self.sealing = sealing
    }
}

/// A record as the channel hands it up: the opened header and, for a block, its body still
/// sealed, with what `BlockSealer.open` needs to open it.
package struct InboundRecord {
    package var header: ByteBuffer
    package var body: ByteBuffer?
    package var opening: BlockOpening?

    package init(header: ByteBuffer, body: ByteBuffer? = nil, opening: BlockOpening? = nil) {
        self.header = header
        self.body = body
        self.opening = opening
    }
}

/// What the channel seals a block's bytes with: the content's block key and the associated data
/// naming the block (segment ID, index, flags).
public struct BlockSealing: Hashable, Sendable {
    package let blockKey: HashValue
    package let associatedData: [UInt8]
}

/// Where a received block's body was sealed: the record's sequence number and the receiving
/// direction's block secret.
public struct BlockOpening: Hashable, Sendable {
    package let sequence: UInt64
    package let secret: BlockChannelSecret
}

/// The secret one direction of a channel mixes into every block key, from the handshake.
///
/// A block's key on the channel is HKDF-SHA-256 with this secret as input keying material and
/// the content's block key as salt: an eavesdropper who knows the content ID lacks the secret
/// (HKDF's extraction with a known salt), and the receiving peer, who knows the secret, lacks the
/// block key unless it knows the content ID (HMAC keyed with the block key is a PRF).
public final class BlockChannelSecret: Hashable, Sendable {
    static let label = Array("PeerDist v2 block key".utf8)
    let algorithm: RecordCipher.Algorithm
    private let secret: [UInt8]
    /// The keys derived for the segments in flight, by block key: deriving and expanding a key
    /// for each block cost more than sealing it, and remembering only the last one missed at
    /// every request (the requests of one connection take turns between segments). Emptied when
    /// full.
    private let keys = PThreadMutex(BoundedMemo<HashValue, SealingKey>(capacity: keysKept))
    static let keysKept = 64

    package init(algorithm: RecordCipher.Algorithm, secret: [UInt8]) {
        self.algorithm = algorithm
        self.secret = secret
    }

    func key(for blockKey: HashValue) -> SealingKey {
        if let known = keys.withLock({ $0[blockKey] }) { return known }
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), salt: blockKey.bytes, info: Self.label, outputByteCount: 32)
        let key = SealingKey(algorithm: algorithm, key: derived.withUnsafeBytes { Array($0) })
        // Derived outside the lock: the other direction's task may want a key meanwhile.
        keys.withLock { $0.remember(key, for: blockKey) }
        return key
    }

    public static func == (left: BlockChannelSecret, right: BlockChannelSecret) -> Bool { left === right }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// Seals the records of the sending direction, each block's bytes once.
package final class RecordSealer {
    private let cipher: RecordCipher
    private let secret: BlockChannelSecret

    package init(algorithm: RecordCipher.Algorithm, recordKey: [UInt8], blockSecret: [UInt8]) {
        cipher = RecordCipher(algorithm: algorithm, key: recordKey)
        secret = BlockChannelSecret(algorithm: algorithm, secret: blockSecret)
    }

    /// The framed record. The ciphers read the header and the block where they lie and write
    /// straight into the frame, so neither is copied first.
    package func seal(_ record: OutboundRecord, allocator: ByteBufferAllocator) -> ByteBuffer {
        let tag = RecordCipher.tagSize
        let headerCount = record.header.readableBytes
        let bodyCount = record.body.map { $0.bytes.readableBytes + tag } ?? 0
        var frame = allocator.buffer(capacity: 8 + headerCount + tag + bodyCount)
        frame.writeMultipleIntegers(UInt32(4 + headerCount + tag + bodyCount), UInt32(bodyCount))
        withUnsafeBytes(of: UInt32(bodyCount).bigEndian) { bodyLength in
            record.header.withUnsafeReadableBytes { header in
                _ = frame.writeWithUnsafeMutableBytes(minimumWritableBytes: headerCount + tag) { output in
                    cipher.seal(header, into: output, associatedData: bodyLength)
                    return headerCount + tag
                }
            }
        }
        if let body = record.body {
            let key = secret.key(for: body.sealing.blockKey)
            let sequence = cipher.lastSequence
            body.bytes.withUnsafeReadableBytes { bytes in
                body.sealing.associatedData.withUnsafeBytes { associatedData in
                    _ = frame.writeWithUnsafeMutableBytes(minimumWritableBytes: bodyCount) { output in
                        key.seal(bytes, into: output, sequence: sequence, associatedData: associatedData)
                        return bodyCount
                    }
                }
            }
        }
        return frame
    }
}

/// Opens the records of the receiving direction: the header at once, a block's body later, by
/// whoever knows its content (`BlockSealer.open`).
package final class RecordOpener {
    private let cipher: RecordCipher
    private let secret: BlockChannelSecret

    package init(algorithm: RecordCipher.Algorithm, recordKey: [UInt8], blockSecret: [UInt8]) {
        cipher = RecordCipher(algorithm: algorithm, key: recordKey)
        secret = BlockChannelSecret(algorithm: algorithm, secret: blockSecret)
    }

    /// Opens one record (without its length): the header into a buffer of its own (the record
    /// is a slice of the framing's input, which opening in place would copy first), the body a
    /// view of the record.
    package func open(_ record: ByteBuffer, allocator: ByteBufferAllocator) throws(WireError) -> InboundRecord {
        let tag = RecordCipher.tagSize
        guard let bodyLength = record.getInteger(at: record.readerIndex, as: UInt32.self) else {
            throw WireError("a record of \(record.readableBytes) bytes is shorter than its body length")
        }
        let bodyCount = Int(bodyLength)
        let headerSealed = record.readableBytes - 4 - bodyCount
        guard headerSealed >= tag, bodyCount == 0 || bodyCount >= tag else {
            throw WireError("a record of \(record.readableBytes) bytes cannot hold a body of \(bodyCount) and a header")
        }
        let headerCount = headerSealed - tag
        var header = allocator.buffer(capacity: headerCount)
        let opened = withUnsafeBytes(of: bodyLength.bigEndian) { associatedData in
            record.withUnsafeReadableBytes { source in
                var opened = false
                _ = header.writeWithUnsafeMutableBytes(minimumWritableBytes: headerCount) { output in
                    opened = cipher.open(UnsafeRawBufferPointer(rebasing: source[4..<(4 + headerSealed)]), into: output, associatedData: associatedData)
                    return opened ? headerCount : 0
                }
                return opened
            }
        }
        guard opened else { throw WireError("a record failed authentication") }
        guard bodyCount > 0 else { return InboundRecord(header: header) }
        let body = record.getSlice(at: record.readerIndex + 4 + headerSealed, length: bodyCount)
        return InboundRecord(header: header, body: body, opening: BlockOpening(sequence: cipher.lastSequence, secret: secret))
    }
}
