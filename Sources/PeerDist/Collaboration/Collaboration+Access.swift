import PeerDistHashing
import PeerDistWire

/// Private sharing's rules come from the book: content and mirrors with an audience are read by
/// those keys alone.
extension Collaboration: AccessRules {
    func audience(ofContent id: ContentID) -> Set<PeerKey>? { book.audience(ofContent: id.hex) }
    func audience(ofMirror discoveryKey: HashValue) -> Set<PeerKey>? { book.audience(ofMirror: discoveryKey.hex) }
}
