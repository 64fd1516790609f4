/// The key chain of MS-PCCRC §2.2 that turns a segment's hash of data (HoD) into its secret and its public ID.
///
/// ```
/// Kp     = HMAC(Ks, HoD)          segment secret: only holders of the server secret (or the content ID) can compute it
/// HoHoDk = HMAC(Kp, HoD ‖ C)      segment ID: what peers advertise and ask for
/// ```
public enum SegmentKeys {
    /// `C`: "MS_P2P_CACHING" in UTF-16LE with its UTF-16 NUL terminator (30 bytes). The specification's
    /// prose says ASCII; Windows and every captured vector use UTF-16LE.
    public static let segmentIDConstant: [UInt8] = Array("MS_P2P_CACHING\u{0}".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })

    /// Kp, from the hashed server secret Ks.
    public static func segmentSecret(hashOfData: HashValue, hashedServerSecret: [UInt8], algorithm: HashAlgorithm) -> HashValue {
        algorithm.authenticationCode(key: hashedServerSecret, message: hashOfData.bytes)
    }

    /// The key that seals a segment's blocks on PeerDist's own wire: derived from Kp, so whoever
    /// can ask for a segment by its ID but lacks Kp cannot read the answer.
    public static func blockKey(segmentSecret: HashValue) -> HashValue {
        HashAlgorithm.sha256.authenticationCode(key: segmentSecret.bytes, message: Array("PeerDist block key v1".utf8))
    }

    /// HoHoDk, the segment ID.
    public static func segmentID(hashOfData: HashValue, segmentSecret: HashValue, algorithm: HashAlgorithm) -> HashValue {
        algorithm.authenticationCode(key: segmentSecret.bytes, message: hashOfData.bytes + segmentIDConstant)
    }
}
