import NIOCore
import NIOEmbedded
import Testing
@testable import PeerDistWire

/// The framing cuts a stream into exactly its records whatever the reads it arrives in: a record
/// inside one read is passed on as a slice of it, one spanning reads is gathered whole.
@Suite struct RecordFramingTests {
    /// Records of sizes around a block's, framed, in one stream.
    static func stream(_ lengths: [Int]) -> (bytes: [UInt8], records: [[UInt8]]) {
        var bytes: [UInt8] = []
        var records: [[UInt8]] = []
        for (number, length) in lengths.enumerated() {
            let record = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ number) }
            withUnsafeBytes(of: UInt32(length).bigEndian) { bytes += $0 }
            bytes += record
            records.append(record)
        }
        return (bytes, records)
    }

    @Test(arguments: [1, 3, 4, 5, 1000, 65_536, 65_600, 262_144, 1 << 20])
    func recordsComeOutWholeWhateverTheReads(pieceSize: Int) throws {
        let (bytes, expected) = Self.stream([0, 1, 65_536 + 40, 17, 65_536 + 40, 65_536 + 40, 3, 200_000, 65_536 + 40])
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RecordDecoder(limit: RecordDecoder.maximumRecord)))
        var received: [[UInt8]] = []
        for start in stride(from: 0, to: bytes.count, by: pieceSize) {
            try channel.writeInbound(ByteBuffer(bytes: bytes[start..<min(start + pieceSize, bytes.count)]))
            while let record = try channel.readInbound(as: ByteBuffer.self) { received.append(Array(record.readableBytesView)) }
        }
        #expect(received == expected)
        #expect(try channel.finish().isClean)
    }

    @Test func anOversizedLengthIsRefusedWhileARecordIsBeingGathered() throws {
        let (bytes, _) = Self.stream([100, 50])
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RecordDecoder(limit: 100)))
        try channel.writeInbound(ByteBuffer(bytes: bytes[..<60]))
        try channel.writeInbound(ByteBuffer(bytes: bytes[60...]))
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 100)
        #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 101])) }
    }
}
