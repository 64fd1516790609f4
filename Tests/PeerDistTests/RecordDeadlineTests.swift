import NIOCore
import NIOEmbedded
import Testing
@testable import PeerDistWire

/// A peer that stops mid-record cannot keep what it sent buffered: a record must be whole within
/// its deadline of its first byte, and the unfinished records of a listener's connections share a
/// budget, past which the connection whose record began first is closed. Time here is the
/// embedded event loop's, moved by hand.
@Suite struct RecordDeadlineTests {
    static let deadline = TimeAmount.seconds(30)

    static func connection(unfinished: UnfinishedRecords? = nil) throws -> EmbeddedChannel {
        let decoder = RecordDecoder(limit: RecordDecoder.maximumRecord, deadline: deadline, unfinished: unfinished)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
        try channel.connect(to: SocketAddress(ipAddress: "::1", port: 7)).wait()
        return channel
    }

    /// The first `count` bytes of a frame whose record is `length` bytes long.
    static func frame(length: Int, sending count: Int) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(UInt32(length))
        frame.writeRepeatingByte(7, count: length)
        return frame.getSlice(at: 0, length: count)!
    }

    @Test func aRecordLeftUnfinishedClosesTheConnectionAtItsDeadline() throws {
        let channel = try Self.connection()
        try channel.writeInbound(Self.frame(length: 1000, sending: 500))
        channel.embeddedEventLoop.advanceTime(by: Self.deadline - .seconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(throws: WireError.self) { try channel.throwIfErrorCaught() }
    }

    @Test func aLengthLeftUnfinishedCountsAsARecordBegun() throws {
        let channel = try Self.connection()
        try channel.writeInbound(Self.frame(length: 1000, sending: 2))
        channel.embeddedEventLoop.advanceTime(by: Self.deadline)
        #expect(!channel.isActive)
    }

    @Test func eachRecordHasItsOwnDeadlineAndSilenceBetweenRecordsHasNone() throws {
        let channel = try Self.connection()
        let whole = Self.frame(length: 1000, sending: 1004)
        // The first record, finished 20 s after it began, with the next one's first bytes.
        try channel.writeInbound(whole.getSlice(at: 0, length: 300)!)
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        var rest = whole.getSlice(at: 300, length: 704)!
        rest.writeImmutableBuffer(whole.getSlice(at: 0, length: 10)!)
        try channel.writeInbound(rest)
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 1000)
        // 40 s after the first began, 20 s after the second did: still open.
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        #expect(channel.isActive)
        try channel.writeInbound(whole.getSlice(at: 10, length: 994)!)
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 1000)
        // Nothing under way: an idle connection is not this deadline's business.
        channel.embeddedEventLoop.advanceTime(by: .hours(1))
        #expect(channel.isActive)
        try channel.throwIfErrorCaught()
        _ = try channel.finish()
    }

    @Test func pastTheBudgetTheOldestUnfinishedRecordLosesItsConnection() throws {
        let unfinished = UnfinishedRecords(limit: 3000)
        let first = try Self.connection(unfinished: unfinished)
        let second = try Self.connection(unfinished: unfinished)
        try first.writeInbound(Self.frame(length: 2000, sending: 100))
        #expect(unfinished.total == 2004)
        // Another 2 004 bytes begun: over 3 000, so the first connection, whose record is older, goes.
        try second.writeInbound(Self.frame(length: 2000, sending: 10))
        #expect(!first.isActive)
        #expect(second.isActive)
        #expect(unfinished.total == 2004)
        #expect(unfinished.closedCount == 1)
        // A record finished gives its bytes back, and so does a connection closed mid-record.
        try second.writeInbound(Self.frame(length: 2000, sending: 2004).getSlice(at: 10, length: 1994)!)
        #expect(try second.readInbound(as: ByteBuffer.self)?.readableBytes == 2000)
        #expect(unfinished.total == 0)
        try second.writeInbound(Self.frame(length: 500, sending: 200))
        #expect(unfinished.total == 504)
        _ = try second.finish(acceptAlreadyClosed: true)
        #expect(unfinished.total == 0)
        #expect(unfinished.closedCount == 1)
    }
}
