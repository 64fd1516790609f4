import PeerDistHashing

/// A content being fetched into the store's cache, block by block, in any order and from any
/// number of threads. Every block is verified against the Content Information before it is
/// written; blocks written are served to peers at once.
///
/// Progress survives a crash up to the last `flush()` (which also happens by itself every few
/// MiB written): `ContentStore.beginDownload` on the same content later resumes from there. Call
/// `flush()` before letting go of a download that is to be resumed; nothing flushes on release.
public final class Download: Sendable {
    private let store: ContentStore
    private let partial: PartialContent

    init(store: ContentStore, partial: PartialContent) {
        self.store = store
        self.partial = partial
    }

    public var contentID: ContentID { partial.layout.id }
    public var information: ContentInformation { partial.layout.information }
    /// The content's length.
    public var totalBytes: UInt64 { partial.layout.length }
    /// Bytes of the blocks verified and written so far.
    public var heldBytes: UInt64 { partial.heldBytes }
    /// Every block is held (`finish()` will succeed).
    public var isComplete: Bool { partial.isComplete }

    /// The held blocks as bits: block `n` (numbered across the content) in bit `n % 8` of byte `n / 8`.
    public var heldBits: [UInt8] { partial.heldBits }

    /// Whether block `block` of segment `segment` is held; false for a block the content lacks.
    public func isHeld(segment: Int, block: Int) -> Bool {
        guard let number = partial.layout.blockNumber(segment: segment, block: block) else { return false }
        return partial.isHeld(number)
    }

    /// The blocks still to fetch, as (segment, block) pairs in content order.
    public func missingBlocks() -> [(segment: Int, block: Int)] {
        partial.layout.segments.indices.flatMap { segment in
            partial.heldBlocks(ofSegment: segment).enumerated().filter { !$0.element }.map { (segment, $0.offset) }
        }
    }

    /// Verifies and writes one block. Throws `.corruptBlock`, writing nothing, when the bytes are
    /// not the block's; a block already held is left as it is.
    public func write(segment: Int, block: Int, bytes: [UInt8]) throws(StoreError) {
        try partial.write(segment: segment, block: block, bytes: bytes)
    }

    /// `write` from bytes in place (a fetcher's buffer), without a copy of their own.
    public func write(segment: Int, block: Int, bytes: UnsafeRawBufferPointer) throws(StoreError) {
        try partial.write(segment: segment, block: block, bytes: bytes)
    }

    /// Syncs the written blocks to disk, then records them in the bitmap file.
    public func flush() throws(StoreError) {
        try partial.flush()
    }

    /// Flushes, moves the finished file to `cache/<hex id>.data`, records the content as complete
    /// and returns that path. Throws `.incomplete` while blocks are missing.
    @discardableResult
    public func finish() throws(StoreError) -> String {
        try store.finishDownload(partial)
    }
}
