import CLibFuzzer
import PeerDistHashing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Feeds bytes to the Content Information decoder as a peer could, then derives from whatever it
/// accepts everything `peerdist info` and a fetcher do. A malformed blob must be refused with
/// `ContentInformationError`; any trap, sanitizer report or broken round trip is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let information: ContentInformation
    do {
        information = try ContentInformation(decoding: bytes)
    } catch {
        // The entry points of each version must agree with the auto-detecting one.
        let disagreement = "a version's own decoder accepted a blob the auto-detecting one refused"
        if bytes.starts(with: [0x00, 0x01]) { check((try? ContentInformationV1(decoding: bytes)) == nil, disagreement) }
        if bytes.starts(with: [0x00, 0x02]) { check((try? ContentInformationV2(decoding: bytes)) == nil, disagreement) }
        return 0
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
            check(
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
    check(encoded == bytes, "re-encoding changed the blob")
    do {
        check(try ContentInformation(decoding: encoded) == information, "decode → encode → decode changed the value")
    } catch {
        check(false, "the re-encoded blob was refused: \(error)")
    }
    return 0
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// SwiftPM renames an executable's `main` so that tests can link it, which leaves libFuzzer's own
/// `main` out of the link; this one hands over to libFuzzer instead.
@main enum Driver {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        // libFuzzer passes a valid pointer even for an empty input; a null one would be skipped.
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in data.map { fuzz($0, size) } ?? 0 })
    }
}
