import NIOCore
import PeerDistHashing

/// Reads fixed-width fields from bytes that came from outside (a peer's message, a manifest page,
/// a file on disk), checking every read against what remains. A failure is the reading module's
/// own error, made by `failure` from a message naming the subject, the byte offset and the field.
///
/// One reader for every format: messages, chunk signatures and deltas, manifests, and the files
/// mirrors keep for themselves differ only in byte order and in the error they throw.
package struct FieldReader<Failure: Error> {
    package private(set) var buffer: ByteBuffer
    private let start: Int
    /// What is being read, for messages: "chunk delta", "the manifest root", "page 1f2e…".
    package let subject: String
    private let endianness: Endianness
    private let makeFailure: (String) -> Failure

    package init(_ buffer: ByteBuffer, subject: String, endianness: Endianness = .big, failure: @escaping (String) -> Failure) {
        self.buffer = buffer
        self.start = buffer.readerIndex
        self.subject = subject
        self.endianness = endianness
        self.makeFailure = failure
    }

    package init(_ bytes: some Collection<UInt8>, subject: String, endianness: Endianness = .big, failure: @escaping (String) -> Failure) {
        self.init(ByteBuffer(bytes: bytes), subject: subject, endianness: endianness, failure: failure)
    }

    /// Bytes read so far.
    package var offset: Int { buffer.readerIndex - start }
    package var remaining: Int { buffer.readableBytes }
    package var isAtEnd: Bool { buffer.readableBytes == 0 }

    /// The module's error for `reason` at `position` (the current offset when `nil`).
    package func failure(_ reason: String, at position: Int? = nil) -> Failure {
        makeFailure(message(reason, at: position))
    }

    /// "page 1f2e…, byte 40: the path needs 12 bytes, only 3 remain".
    package func message(_ reason: String, at position: Int? = nil) -> String {
        "\(subject), byte \(position ?? offset): \(reason)"
    }

    // Field names are autoclosures: they often quote a path, which only a failure should pay for.

    package mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(Failure) -> T {
        guard let value = buffer.readInteger(endianness: endianness, as: T.self) else {
            throw failure("ends inside the \(field())")
        }
        return value
    }

    package mutating func bytes(_ count: Int, _ field: @autoclosure () -> String) throws(Failure) -> [UInt8] {
        guard count >= 0, count <= remaining, let bytes = buffer.readBytes(length: count) else {
            throw failure("the \(field()) needs \(count) bytes, only \(remaining) remain")
        }
        return bytes
    }

    /// Like `bytes`, but a view of the buffer rather than a copy.
    package mutating func slice(_ count: Int, _ field: @autoclosure () -> String) throws(Failure) -> ByteBuffer {
        guard count >= 0, count <= remaining, let slice = buffer.readSlice(length: count) else {
            throw failure("the \(field()) needs \(count) bytes, only \(remaining) remain")
        }
        return slice
    }

    package mutating func hash(_ field: @autoclosure () -> String) throws(Failure) -> HashValue {
        HashValue(try bytes(32, field()))
    }

    /// A count of items that each take at least `minimumSize` bytes, checked against what is
    /// left so a damaged count cannot make the reader reserve gigabytes.
    package mutating func count<T: FixedWidthInteger>(_: T.Type, ofItemsAtLeast minimumSize: Int, _ field: @autoclosure () -> String) throws(Failure) -> Int {
        let position = offset
        let value = try integer(T.self, field())
        guard let count = Int(exactly: value), count <= remaining / max(1, minimumSize) else {
            throw failure("\(field()) \(value) is more than the \(remaining) bytes left can hold", at: position)
        }
        return count
    }
}
