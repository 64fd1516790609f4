import FuzzSupport
import PeerDistHashing

/// Feeds bytes to the Content Information decoder as a peer could, then derives from whatever it
/// accepts everything `peerdist info` and a fetcher do. A malformed blob must be refused with
/// `ContentInformationError`; any trap, sanitizer report or broken round trip is a finding.
func fuzz(_ bytes: [UInt8]) {
    let information: ContentInformation
    do {
        information = try ContentInformation(decoding: bytes)
    } catch {
        // The entry points of each version must agree with the auto-detecting one.
        let disagreement = "a version's own decoder accepted a blob the auto-detecting one refused"
        if bytes.starts(with: [0x00, 0x01]) { Fuzzing.check((try? ContentInformationV1(decoding: bytes)) == nil, disagreement) }
        if bytes.starts(with: [0x00, 0x02]) { Fuzzing.check((try? ContentInformationV2(decoding: bytes)) == nil, disagreement) }
        return
    }

    // What `peerdist info` shows.
    _ = information.range
    _ = information.segmentCount
    _ = information.segments(prefix: 20)

    // What a fetcher derives: the ID it checks the blob against, the segments' block ranges.
    let segments = information.segments
    for segment in segments {
        for block in 0..<segment.blockCount {
            let range = segment.blockRange(block)
            Fuzzing.check(
                !range.isEmpty && range.lowerBound >= segment.offset && range.upperBound - segment.offset <= UInt64(segment.length),
                "block \(block) of segment \(segment.index) has range \(range)")
        }
    }
    if let id = ContentID(describing: information) {
        // A mutated blob's secrets are seldom the ones its own ID derives; the checks before must not trap.
        do { try id.verify(information) } catch {}
    }

    // Round trip: the encoder reproduces the bytes, and they decode to the same value.
    let encoded = information.encoded()
    Fuzzing.check(encoded == bytes, "re-encoding changed the blob")
    do {
        Fuzzing.check(try ContentInformation(decoding: encoded) == information, "decode → encode → decode changed the value")
    } catch {
        Fuzzing.check(false, "the re-encoded blob was refused: \(error)")
    }
}

/// Blobs the hasher writes for a few small contents, both versions; the committed corpus adds
/// Microsoft's own from the test vectors.
func makeSeeds() -> [String: [UInt8]] {
    var seeds: [String: [UInt8]] = [:]
    for (name, length) in [("one-block", 1000), ("three-blocks", 150_000)] {
        for version in ContentInformationVersion.allCases {
            let hasher = StreamingContentHasher(version: version)
            hasher.update((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
            let information = ContentInformation(hashed: hasher.finalize(), secret: ServerSecret(passphrase: "fuzz"))
            seeds["hashed-v\(version)-\(name)"] = information.encoded()
        }
    }
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
