/// A piece of a file cut by `GearChunker`, named by the SHA-256 of its bytes: identical chunks
/// in different files or versions share one reference and travel once.
public struct ChunkReference: Hashable, Sendable {
    public var hash: HashValue
    public var length: UInt32

    public init(hash: HashValue, length: UInt32) {
        self.hash = hash
        self.length = length
    }
}
