import Crypto
import PeerDistHashing
import PeerDistWire

/// The name of a mirror, as a PNRP secure peer name: `AUTHORITY.CLASSIFIER`.
///
/// The authority is the first 20 bytes, in lower-case hex, of
/// `SHA-256("PeerDist mirror authority v1" ‖ publisher's Ed25519 key)`: the name itself says who
/// may sign its versions, so no one else can publish under it. The classifier tells apart the
/// mirrors of one publisher: 1–64 of `A–Z a–z 0–9 . _ -`, not starting with `.` or `-`.
///
/// Knowing the name is what lets a node fetch the mirror (it keys the sealed root), so the name
/// is never sent in the clear; peers look for `discoveryKey` instead.
public struct MirrorName: Hashable, Sendable, CustomStringConvertible {
    public static let authorityHexDigits = 40
    public static let maximumClassifierLength = ManifestFormat.maximumClassifierBytes
    private static let authorityDomain = Array("PeerDist mirror authority v1".utf8)
    private static let discoveryLabel = Array("PeerDist mirror discovery key v1".utf8)
    private static let rootLabel = Array("PeerDist mirror root key v1".utf8)

    /// 40 lower-case hex digits naming the publisher's key.
    public let authority: String
    public let classifier: String

    /// The name of `publisher`'s mirror `classifier`.
    public init(publisher: PeerKey, classifier: String) throws(MirrorError) {
        guard publisher.bytes.count == PeerKey.byteCount else {
            throw MirrorError(.invalidName, "a mirror publisher's key must be \(PeerKey.byteCount) bytes, not \(publisher.bytes.count)")
        }
        if let problem = Self.classifierProblem(classifier) {
            throw MirrorError(.invalidName, "\(MirrorError.quoted(classifier)) is not a mirror classifier: \(problem)")
        }
        self.authority = Self.authority(of: publisher)
        self.classifier = classifier
    }

    /// Parses `authority.classifier`, split at the first `.`; the authority may be written in
    /// either case and is kept in lower case.
    public init(parsing text: String) throws(MirrorError) {
        func refuse(_ problem: String) -> MirrorError {
            MirrorError(.invalidName, "\(MirrorError.quoted(text)) is not a mirror name: \(problem)")
        }
        guard let dot = text.utf8.firstIndex(of: UInt8(ascii: ".")) else {
            throw refuse("it needs a '.' between the authority and the classifier")
        }
        let authority = text.utf8[..<dot]
        let classifier = text.utf8[text.utf8.index(after: dot)...]
        guard authority.count == Self.authorityHexDigits, authority.allSatisfy(Self.isHexDigit) else {
            throw refuse("the authority must be \(Self.authorityHexDigits) hex digits")
        }
        let classifierText = String(decoding: classifier, as: UTF8.self)
        if let problem = Self.classifierProblem(classifierText) { throw refuse(problem) }
        self.authority = String(decoding: authority, as: UTF8.self).lowercased()
        self.classifier = classifierText
    }

    /// `authority.classifier`.
    public var description: String { "\(authority).\(classifier)" }

    /// Whether `key` is the key this name's authority was made from: the only key whose
    /// signatures make a version of this mirror.
    public func isAuthority(of key: PeerKey) -> Bool {
        key.bytes.count == PeerKey.byteCount && Self.authority(of: key) == authority
    }

    /// What peers are asked for when looking for this mirror: it lets holders recognise the
    /// mirror without telling anyone who overhears the name, which would let them fetch it.
    ///
    /// HMAC-SHA256 of the name's text under a fixed label.
    public var discoveryKey: HashValue { derive(Self.discoveryLabel) }

    /// Seals the manifest root on the wire (AES-256-GCM), so only nodes that know the name can
    /// read which pages, and so which files and chunks, a version holds.
    public var rootKey: HashValue { derive(Self.rootLabel) }

    private func derive(_ label: [UInt8]) -> HashValue {
        HashValue(HMAC<SHA256>.authenticationCode(for: Array(description.utf8), using: SymmetricKey(data: label)))
    }

    /// The authority of names made from `key`: mirror names and peer names (`peerdist names`).
    public static func authority(of key: PeerKey) -> String {
        var sha = SHA256()
        sha.update(data: authorityDomain)
        sha.update(data: key.bytes)
        return Hex.encode(Array(sha.finalize()).prefix(authorityHexDigits / 2))
    }

    /// Why `classifier` is not a valid classifier, or `nil` when it is. Peer names allow longer
    /// classifiers than mirrors (PNRP's 150 characters).
    public static func classifierProblem(_ classifier: String, maximumLength: Int = maximumClassifierLength) -> String? {
        let bytes = classifier.utf8
        guard let first = bytes.first else { return "the classifier is empty" }
        guard bytes.count <= maximumLength else {
            return "the classifier has \(bytes.count) bytes, more than \(maximumLength)"
        }
        if let bad = classifier.unicodeScalars.first(where: { !isClassifierScalar($0) }) {
            return "the classifier may hold only letters, digits, '.', '_' and '-', not \(String(bad).debugDescription)"
        }
        guard first != UInt8(ascii: "."), first != UInt8(ascii: "-") else {
            return "the classifier must not start with '.' or '-'"
        }
        return nil
    }

    private static func isClassifierScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": return true
        default: return false
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): return true
        default: return false
        }
    }
}

extension MirrorName {
    /// A valid classifier made from `text` (a directory's name): characters a classifier may not
    /// hold become '-', a leading '.' or '-' is dropped, and nothing left makes "mirror".
    public static func classifier(suggestedBy text: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        var classifier = String(text.map { allowed.contains($0) ? $0 : "-" }.prefix(maximumClassifierLength))
        while let first = classifier.first, first == "." || first == "-" { classifier.removeFirst() }
        return classifier.isEmpty ? "mirror" : classifier
    }
}
