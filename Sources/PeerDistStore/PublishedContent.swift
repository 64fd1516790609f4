import Foundation
import PeerDistHashing

/// A file published in place: served from where it lies, never copied, for as long as it is the
/// file that was hashed.
public struct PublishedContent: Hashable, Sendable {
    public let contentID: ContentID
    /// Absolute and free of symbolic links.
    public let path: String
    public let size: UInt64
    public let modificationTime: Date
    public let inode: UInt64
    public let version: ContentInformationVersion
    /// Built with the content ID's server secret, as every holder of the ID builds it.
    public let information: ContentInformation
    /// The file changed since it was published (its size, modification time or inode, or a
    /// block's bytes); nothing is served from it until it is published again.
    public let isStale: Bool
}
