import Crypto
import Foundation
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistWire
@testable import PeerDistMirror

/// A follower's choice of bases: the old chunk at the same place of the same file, and an update
/// whose edited chunks all arrive as deltas against the bases it chose.
@Suite struct MirrorDeltaBasesTests {
    typealias Fixture = MirrorManifestTests

    static func missing(_ chunk: ChunkReference, _ destinations: (String, UInt64)...) -> MirrorUpdate.MissingChunk {
        MirrorUpdate.MissingChunk(chunk: chunk, destinations: destinations.map { MirrorUpdate.Destination(path: $0.0, offset: $0.1) })
    }

    @Test func theBaseIsTheOldChunkCoveringTheSameOffset() {
        let (c1, c2, c3, c4) = (Fixture.chunk(1, length: 100), Fixture.chunk(2, length: 200), Fixture.chunk(3, length: 300), Fixture.chunk(4, length: 50))
        let applied = [Fixture.file("a", chunks: [c1, c2, c3]), Fixture.file("b", chunks: [c4]), Fixture.directory("dir"), Fixture.file("empty", chunks: [])]
        let wanted = (10...16).map { Fixture.chunk(UInt64($0)) }
        // a keeps c1, b keeps c4 (both edited); "rewritten" keeps nothing of its old chunk.
        let target = [
            Fixture.file("a", chunks: [c1, wanted[0], wanted[1], wanted[3]]), Fixture.file("b", chunks: [c4, wanted[3]]),
            Fixture.file("new", chunks: [wanted[2]]), Fixture.file("rewritten", chunks: [wanted[6]]),
        ]
        let bases = DeltaBases(missing: [
            Self.missing(wanted[0], ("a", 100)),  // where c2 starts
            Self.missing(wanted[1], ("a", 599)),  // c3's last byte
            Self.missing(wanted[2], ("new", 0)),  // no old file
            Self.missing(wanted[3], ("a", 600), ("b", 10)),  // past a's end; b has one
            Self.missing(wanted[4], ("dir", 0), ("empty", 0)),  // neither is a file with chunks
            Self.missing(c1, ("a", 0)),  // the same chunk is no base
            Self.missing(wanted[6], ("rewritten", 0)),  // rewritten: nothing in common with its old chunk
        ], applied: applied + [Fixture.file("rewritten", chunks: [c2])], target: target)
        #expect(bases.base(of: wanted[0]) == c2)
        #expect(bases.base(of: wanted[1]) == c3)
        #expect(bases.base(of: wanted[2]) == nil)
        #expect(bases.base(of: wanted[3]) == c4)
        #expect(bases.base(of: wanted[4]) == nil)
        #expect(bases.base(of: c1) == nil)
        #expect(bases.base(of: wanted[5]) == nil)
        #expect(bases.base(of: wanted[6]) == nil)
        #expect(DeltaBases(missing: [Self.missing(wanted[0], ("a", 0))], applied: [], target: target).bases.isEmpty)
    }

    /// Bytes inserted in the middle of a large file: every chunk the follower misses there has a
    /// base it can read, and the deltas against them rebuild the new version in a few KiB where
    /// whole chunks would take far more. A small file (one chunk) overwritten shares no chunk with
    /// its old version and is fetched whole.
    @Test func editedChunksArriveAsDeltasAgainstTheirBases() throws {
        var pair = try MirrorPair()
        let large = StoreTestContent.random(count: 2 << 20, seed: 61)
        let small = StoreTestContent.random(count: 9000, seed: 62)
        try MirrorFiles.write(large, "data/large.bin", in: pair.publisher)
        try MirrorFiles.write(small, "small.bin", in: pair.publisher)
        let old = try pair.sync().entries

        var edited = large
        edited.insert(contentsOf: Array("a few inserted bytes".utf8), at: 1 << 20)
        var overwritten = small
        overwritten.replaceSubrange(4000..<4010, with: [UInt8](repeating: 0, count: 10))
        try MirrorFiles.write(edited, "data/large.bin", in: pair.publisher)
        try MirrorFiles.write(overwritten, "small.bin", in: pair.publisher)
        let entries = try pair.publish()
        let update = try pair.prepare(entries)
        let missing = update.missing
        #expect(!missing.isEmpty)
        let bases = DeltaBases(missing: missing, applied: old, target: entries)
        let source = try LocalChunkIndex(root: pair.publisher, entries: entries)
        var deltaBytes = 0
        for wanted in missing {
            if wanted.destinations.map(\.path) == ["small.bin"] {
                #expect(bases.base(of: wanted.chunk) == nil)
                #expect(try update.store(try #require(source.read(wanted.chunk)), for: wanted.chunk))
                continue
            }
            let base = try #require(bases.base(of: wanted.chunk).flatMap(update.index.read), "no base for a chunk at \(wanted.destinations)")
            let target = try #require(source.read(wanted.chunk))
            let signature = ChunkSignature(base: base)
            let encoded = try #require(ChunkDeltaReply.encode(target, against: signature, compressor: BlockCompressor()))
            deltaBytes += encoded.payload.count + signature.encodedCount
            let rebuilt = try ChunkDeltaReply.decode(
                .init(bytes: encoded.payload), compressed: encoded.flags.contains(.compressed), base: base, blockSize: signature.blockSize, as: wanted.chunk)
            #expect(HashValue(SHA256.hash(data: rebuilt)) == wanted.chunk.hash)
            #expect(try update.store(rebuilt, for: wanted.chunk))
        }
        let wholeBytes = missing.filter { $0.destinations.map(\.path) != ["small.bin"] }.reduce(0) { $0 + Int($1.chunk.length) }
        #expect(deltaBytes < 8 * 1024, "\(deltaBytes) bytes of deltas and signatures for \(wholeBytes) bytes of chunks")
        _ = try update.commit()
        #expect(try MirrorFiles.read("data/large.bin", in: pair.follower) == edited)
        #expect(try MirrorFiles.read("small.bin", in: pair.follower) == overwritten)
    }
}
