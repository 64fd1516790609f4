import PeerDistHashing

/// What names a manifest on the wire: a mirror's signed name or a snapshot's hash. Both are read
/// capabilities, so neither travels; peers are asked for `discoveryKey`, and the root they answer
/// with is sealed under `rootKey`, which only those who know the name can derive.
public protocol ManifestAddress: Sendable, CustomStringConvertible {
    /// What the LAN and peers are asked for.
    var discoveryKey: HashValue { get }
    /// Seals the manifest root on the wire (AES-256-GCM, `SealedManifestRoot`).
    var rootKey: HashValue { get }
}

extension MirrorName: ManifestAddress {}
