/// Why a mirror name, manifest or version was refused: what kind of problem (`code`) and a message
/// naming the name, field, page or path concerned.
///
/// Manifests come from the network, so most of these describe hostile or corrupt input; the
/// message says exactly what was wrong so a publisher can fix a tree that will not publish.
public struct MirrorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A kind of refusal; extensible without breaking callers that switch over the ones they know.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Text that is not `authority.classifier`, or a publisher key of the wrong size.
        public static let invalidName = Code("invalid mirror name")
        /// Bytes that do not parse as a manifest root or page: truncated, trailing or out-of-range fields.
        public static let malformed = Code("malformed manifest")
        /// More entries, pages, bytes or chunks than the format allows.
        public static let tooLarge = Code("manifest too large")
        /// A root whose signature does not verify with the key it names.
        public static let invalidSignature = Code("invalid signature")
        /// A root signed by a key that is not the mirror's authority.
        public static let wrongPublisher = Code("wrong publisher")
        /// A root of another mirror (a different classifier) than the one expected.
        public static let wrongMirror = Code("wrong mirror")
        /// A version that is not newer than the one already held.
        public static let staleVersion = Code("stale version")
        /// A page the root lists was not supplied.
        public static let missingPage = Code("missing page")
        /// Page bytes that do not match the hash, size or entry count the root gives them.
        public static let corruptPage = Code("corrupt page")
        /// A path that could write outside the mirror or onto the follower's own files.
        public static let unsafePath = Code("unsafe path")
        /// Two entries with the same path.
        public static let collision = Code("names collide")
        /// Entries out of path-byte order.
        public static let unsorted = Code("entries not sorted")
        /// An entry whose parent is not a directory entry of the manifest.
        public static let missingParent = Code("missing parent directory")
        /// An entry with out-of-range fields: mode, time, chunk length, empty link target.
        public static let invalidEntry = Code("invalid entry")
        /// A symbolic link that is absolute, leads out of the mirror, or loops.
        public static let unsafeSymlink = Code("unsafe symbolic link")

        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension MirrorError {
    /// `text` quoted for a message, control characters escaped and long text shortened, since it
    /// usually comes from the network.
    static func quoted(_ text: some StringProtocol, limit: Int = 120) -> String {
        let shown = text.count > limit ? "\(text.prefix(limit))…" : String(text)
        return shown.debugDescription
    }
}
