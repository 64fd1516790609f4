import NIOCore
import PeerDistHashing
import PeerDistWire

/// Who may read what this node shares privately (`publish --to`, `mirror publish --to`).
/// Content and mirrors without an audience are public: anyone who knows the ID may read them.
protocol AccessRules: Sendable {
    /// The keys that may read the content, or `nil` when it is public.
    func audience(ofContent id: ContentID) -> Set<PeerKey>?
    /// The keys that may follow the mirror with this discovery key, or `nil` when it is public.
    func audience(ofMirror discoveryKey: HashValue) -> Set<PeerKey>?
}

/// Every content and mirror public: a node without Peer Collaboration.
struct PublicAccess: AccessRules {
    func audience(ofContent id: ContentID) -> Set<PeerKey>? { nil }
    func audience(ofMirror discoveryKey: HashValue) -> Set<PeerKey>? { nil }
}

extension AccessRules {
    func mayRead(_ id: ContentID, _ remote: PeerKey) -> Bool { audience(ofContent: id)?.contains(remote) ?? true }
    func mayFollow(_ discoveryKey: HashValue, _ remote: PeerKey) -> Bool { audience(ofMirror: discoveryKey)?.contains(remote) ?? true }
}

/// The node's content as one connection's peer may see it: private content it may not read is
/// answered exactly as content the node does not hold, so the peer cannot tell it exists.
struct AudienceFilteredContent: ContentSource {
    let base: any ContentSource
    let rules: any AccessRules
    let remote: PeerKey

    func content(forDiscoveryKey key: HashValue) -> (id: ContentID, information: ContentInformation)? {
        guard let found = base.content(forDiscoveryKey: key), rules.mayRead(found.id, remote) else { return nil }
        return found
    }

    func availability(of id: ContentID) -> (blockCount: Int, bits: [UInt8])? {
        rules.mayRead(id, remote) ? base.availability(of: id) : nil
    }

    func segment(withID segmentID: HashValue) -> SegmentDescription? {
        guard let id = base.contentID(ofSegment: segmentID), rules.mayRead(id, remote) else { return nil }
        return base.segment(withID: segmentID)
    }

    func contentID(ofSegment segmentID: HashValue) -> ContentID? {
        base.contentID(ofSegment: segmentID).flatMap { rules.mayRead($0, remote) ? $0 : nil }
    }

    func heldBlocks(of segment: SegmentDescription) -> [BlockRange] {
        self.segment(withID: segment.segmentID) == nil ? [] : base.heldBlocks(of: segment)
    }

    func verifiedBlock(of segment: SegmentDescription, index: Int) -> [UInt8]? {
        contentID(ofSegment: segment.segmentID) == nil ? nil : base.verifiedBlock(of: segment, index: index)
    }

    func blockReader(of segment: SegmentDescription) -> BlockReading {
        contentID(ofSegment: segment.segmentID) == nil ? { _, _ in nil } : base.blockReader(of: segment)
    }
}

/// The node's mirrors as one connection's peer may see them, private ones answered as absent.
struct AudienceFilteredMirrors: MirrorSource {
    let base: any MirrorSource
    let rules: any AccessRules
    let remote: PeerKey

    func sealedRoot(forDiscoveryKey key: HashValue) -> [UInt8]? {
        rules.mayFollow(key, remote) ? base.sealedRoot(forDiscoveryKey: key) : nil
    }

    func page(forDiscoveryKey key: HashValue, hash: HashValue) -> [UInt8]? {
        rules.mayFollow(key, remote) ? base.page(forDiscoveryKey: key, hash: hash) : nil
    }

    func diff(forDiscoveryKey key: HashValue, from: UInt64, to: UInt64) -> [UInt8]? {
        rules.mayFollow(key, remote) ? base.diff(forDiscoveryKey: key, from: from, to: to) : nil
    }

    func chunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference) -> [UInt8]? {
        rules.mayFollow(key, remote) ? base.chunk(forDiscoveryKey: key, chunk) : nil
    }

    func readChunk(forDiscoveryKey key: HashValue, _ chunk: ChunkReference, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        rules.mayFollow(key, remote) && base.readChunk(forDiscoveryKey: key, chunk, into: buffer)
    }
}
