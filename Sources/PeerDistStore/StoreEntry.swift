import Foundation
import PeerDistHashing

/// One thing the store holds, as `ContentStore.entries()` lists it: a file published in place or
/// a content in the cache. A content both published and cached appears once as each.
public struct StoreEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// A user's file, served from where it lies; never deleted by the store.
        case published
        /// A file in the store's cache directory, fetched from peers.
        case cached
    }

    public let contentID: ContentID
    public let kind: Kind
    /// Every block is held: a finished download, or a publication that is not stale.
    public let isComplete: Bool
    /// A published file that changed since it was published; none of its blocks are served.
    public let isStale: Bool
    /// The content's length.
    public let size: UInt64
    /// Bytes of verified blocks held: `size` when complete, 0 when stale.
    public let heldBytes: UInt64
    /// When a block was last served or the content exported (to within a minute across restarts).
    public let lastAccess: Date
    /// The published file, or the cache file (`.data` when complete, `.partial` while downloading).
    public let path: String
}
