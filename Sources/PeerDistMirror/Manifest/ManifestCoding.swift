import PeerDistHashing
import PeerDistWire

/// Manifest roots, pages and diffs come from the network: they are read with the shared field
/// reader, a short or out-of-range field being a `.malformed` `MirrorError` that names the
/// subject, the byte offset and the field.
extension FieldReader where Failure == MirrorError {
    static func manifest(_ bytes: some Collection<UInt8>, subject: String) -> Self {
        Self(bytes, subject: subject, failure: { MirrorError(.malformed, $0) })
    }

    /// An error with another code than `.malformed` (a root too large, a corrupt page) at the
    /// current offset or at `position`.
    func failure(_ reason: String, code: MirrorError.Code, at position: Int? = nil) -> MirrorError {
        MirrorError(code, message(reason, at: position))
    }
}
