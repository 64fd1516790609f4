import Crypto

/// The DHT keys PeerDist derives, so that what it stores on the Mainline DHT says nothing
/// readable: a content is announced under a key derived from its discovery key (itself derived
/// from the content ID), never under the ID.
public enum ContentKeys {
    /// The 20-byte info-hash a holder announces a content under: the first 20 bytes of
    /// `HMAC-SHA-256(discovery key, "PeerDist DHT key v1")`.
    public static func infoHash(forDiscoveryKey discoveryKey: [UInt8]) -> NodeID {
        let code = HMAC<SHA256>.authenticationCode(for: Array("PeerDist DHT key v1".utf8), using: SymmetricKey(data: discoveryKey))
        return NodeID(unchecked: Array(Array(code).prefix(NodeID.byteCount)))
    }
}
