import PeerDistHashing

/// What a node serves of the mirrors it publishes or follows, as seen by the block server.
///
/// Every chunk it returns has been checked against its hash: a file changed in the mirror's
/// directory since it was scanned never puts a wrong chunk on the wire.
public protocol MirrorSource: Sendable {
    /// The newest manifest root of the mirror with this discovery key, sealed for the wire.
    func sealedRoot(forDiscoveryKey key: HashValue) -> [UInt8]?
    /// A page of one of the mirror's manifests, by its hash.
    func page(forDiscoveryKey key: HashValue, hash: HashValue) -> [UInt8]?
    /// What changed in the mirror's entries between two versions, encoded (`ManifestDiff`), or
    /// `nil` when the node no longer has the older one.
    func diff(forDiscoveryKey key: HashValue, from: UInt64, to: UInt64) -> [UInt8]?
    /// The verified bytes of a chunk of the mirror, or `nil` when the node does not hold it.
    func chunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference) -> [UInt8]?
    /// Reads the verified bytes of a chunk of the mirror into the start of `buffer` (at least
    /// the chunk's length): what a reply is made from, without an array of its own. False when
    /// the node does not hold it.
    func readChunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference, into buffer: UnsafeMutableRawBufferPointer) -> Bool
}

extension MirrorSource {
    /// Through `chunk(forDiscoveryKey:_:)`, with a copy.
    public func readChunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let bytes = self.chunk(forDiscoveryKey: key, chunk), buffer.count >= bytes.count else { return false }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return true
    }
}

/// A node with no mirrors.
struct NoMirrors: MirrorSource {
    func sealedRoot(forDiscoveryKey key: HashValue) -> [UInt8]? { nil }
    func page(forDiscoveryKey key: HashValue, hash: HashValue) -> [UInt8]? { nil }
    func diff(forDiscoveryKey key: HashValue, from: UInt64, to: UInt64) -> [UInt8]? { nil }
    func chunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference) -> [UInt8]? { nil }
}
