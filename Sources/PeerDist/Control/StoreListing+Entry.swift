import PeerDistHashing
import PeerDistStore

extension StoreListing {
    public init(_ entry: StoreEntry) {
        self.init(
            contentID: entry.contentID.hex, uri: entry.contentID.uri, kind: entry.kind == .published ? "published" : "cached",
            complete: entry.isComplete, size: entry.size, heldBytes: entry.heldBytes, path: entry.path,
            stale: entry.kind == .published ? entry.isStale : nil)
    }
}

extension Download: DownloadTarget {}
