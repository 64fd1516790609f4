/// The block keys (`SegmentKeys.blockKey`) of the segments a connection is busy with, so that
/// the HMAC behind each is computed once per segment rather than once per block or request.
///
/// Replies to several requests interleave, so one remembered key is not enough; the cache is
/// emptied when full, since only the segments in flight matter. One connection's: not shared.
public final class BlockKeyCache {
    private var keys: [HashValue: HashValue] = [:]
    /// Segments remembered at most: more than a connection has in flight.
    public static let capacity = 64

    public init() {}

    /// The block key of the segment whose secret is `segmentSecret`.
    public func blockKey(segmentSecret: HashValue) -> HashValue {
        if let key = keys[segmentSecret] { return key }
        if keys.count >= Self.capacity { keys.removeAll(keepingCapacity: true) }
        let key = SegmentKeys.blockKey(segmentSecret: segmentSecret)
        keys[segmentSecret] = key
        return key
    }
}
