/// The block keys (`SegmentKeys.blockKey`) of the segments a connection is busy with, so that
/// the HMAC behind each is computed once per segment rather than once per block or request.
///
/// Replies to several requests interleave, so one remembered key is not enough; the cache is
/// emptied when full (see `BoundedMemo`), since only the segments in flight matter. One
/// connection's: not shared.
public final class BlockKeyCache {
    /// Segments remembered at most: more than a connection has in flight.
    public static let capacity = 64
    private var keys = BoundedMemo<HashValue, HashValue>(capacity: capacity)

    public init() {}

    /// The block key of the segment whose secret is `segmentSecret`.
    public func blockKey(segmentSecret: HashValue) -> HashValue {
        keys.value(for: segmentSecret) { SegmentKeys.blockKey(segmentSecret: $0) }
    }
}
