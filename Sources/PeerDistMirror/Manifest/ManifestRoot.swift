import PeerDistHashing
import PeerDistWire

/// The signed head of one version of a mirror: who published it, which version, and the pages
/// that hold its entries. Integers big-endian:
///
/// ```
/// "PDMF" formatVersion(2)=1 publisherKey(32) classifierLength(1) classifier
/// version(8) createdSeconds(8) createdNanoseconds(4) entryCount(4) totalFileBytes(8)
/// pageCount(4) { pageHash(32) entryCount(4) byteCount(4) }… signature(64)
/// ```
///
/// The Ed25519 signature covers `"PeerDist mirror manifest v1" ‖ everything before it`. A root is
/// only ever made by signing (`signed`) or by decoding and verifying (`init(decoding:expecting:)`),
/// so holding one means its signature was good.
public struct ManifestRoot: Hashable, Sendable {
    /// What the root says of one page, so the page can be checked before it is decoded.
    public struct PageReference: Hashable, Sendable {
        /// SHA-256 of the page's bytes.
        public let hash: HashValue
        public let entryCount: Int
        public let byteCount: Int

        public init(hash: HashValue, entryCount: Int, byteCount: Int) {
            self.hash = hash
            self.entryCount = entryCount
            self.byteCount = byteCount
        }
    }

    public let publisher: PeerKey
    public let classifier: String
    /// Strictly increasing from one version of a mirror to the next.
    public let version: UInt64
    public let createdAt: FileTime
    public let entryCount: Int
    /// The sum of the sizes of the manifest's files.
    public let totalFileBytes: UInt64
    public let pages: [PageReference]
    public let signature: [UInt8]

    /// The mirror this is a version of.
    public var name: MirrorName {
        do {
            return try MirrorName(publisher: publisher, classifier: classifier)
        } catch {
            // Both were checked when the root was signed or decoded.
            preconditionFailure("a manifest root holds a valid publisher key and classifier: \(error)")
        }
    }

    public var pageHashes: [HashValue] { pages.map(\.hash) }

    /// The bytes of all pages together: what a follower fetches for a version it has none of.
    public var encodedPageBytes: Int { pages.reduce(0) { $0 + $1.byteCount } }

    /// Signs a root for pages already encoded. The pages' entries are not checked here: a
    /// publisher builds manifests with `MirrorManifest.build`, which does.
    public static func signed(
        by identity: NodeIdentity, classifier: String, version: UInt64, createdAt: FileTime,
        entryCount: Int, totalFileBytes: UInt64, pages: [PageReference]
    ) throws(MirrorError) -> ManifestRoot {
        _ = try MirrorName(publisher: identity.publicKey, classifier: classifier)
        try checkLayout(createdAt: createdAt, entryCount: entryCount, totalFileBytes: totalFileBytes, pages: pages)
        let body = encodeBody(
            publisher: identity.publicKey, classifier: classifier, version: version, createdAt: createdAt,
            entryCount: entryCount, totalFileBytes: totalFileBytes, pages: pages)
        return ManifestRoot(
            publisher: identity.publicKey, classifier: classifier, version: version, createdAt: createdAt, entryCount: entryCount,
            totalFileBytes: totalFileBytes, pages: pages, signature: identity.sign(ManifestFormat.signatureContext + body))
    }

    private init(
        publisher: PeerKey, classifier: String, version: UInt64, createdAt: FileTime, entryCount: Int,
        totalFileBytes: UInt64, pages: [PageReference], signature: [UInt8]
    ) {
        self.publisher = publisher
        self.classifier = classifier
        self.version = version
        self.createdAt = createdAt
        self.entryCount = entryCount
        self.totalFileBytes = totalFileBytes
        self.pages = pages
        self.signature = signature
    }

    public func encoded() -> [UInt8] {
        Self.encodeBody(
            publisher: publisher, classifier: classifier, version: version, createdAt: createdAt,
            entryCount: entryCount, totalFileBytes: totalFileBytes, pages: pages) + signature
    }

    /// Decodes a root from the network and verifies it is a version of `name`: every length and
    /// limit is checked before anything is sized by it, then that the key is the name's
    /// authority and the classifier the name's, then the signature.
    public init(decoding bytes: [UInt8], expecting name: MirrorName) throws(MirrorError) {
        var reader = FieldReader.manifest(bytes, subject: "the manifest root of \(name)")
        guard bytes.count <= ManifestFormat.maximumRootBytes else {
            throw reader.failure("it has \(bytes.count) bytes, more than any root (\(ManifestFormat.maximumRootBytes))", code: .tooLarge)
        }
        guard try reader.bytes(ManifestFormat.magic.count, "magic").elementsEqual(ManifestFormat.magic) else {
            throw reader.failure("it does not start with \"PDMF\"", at: 0)
        }
        let format = try reader.integer(UInt16.self, "format version")
        guard format == ManifestFormat.version else {
            throw reader.failure("format version \(format) is not supported (this node reads version \(ManifestFormat.version))")
        }
        let publisher = PeerKey(Array(try reader.bytes(ManifestFormat.publisherKeyBytes, "publisher key")))
        let classifierLength = try reader.integer(UInt8.self, "classifier length")
        let classifier = String(decoding: try reader.bytes(Int(classifierLength), "classifier"), as: UTF8.self)
        if let problem = MirrorName.classifierProblem(classifier) { throw reader.failure(problem) }
        let version = try reader.integer(UInt64.self, "version")
        let seconds = try reader.integer(Int64.self, "creation time")
        let nanoseconds = try reader.integer(UInt32.self, "creation time")
        let entryCount = try reader.integer(UInt32.self, "entry count")
        let totalFileBytes = try reader.integer(UInt64.self, "total file bytes")
        let pageCount = try reader.integer(UInt32.self, "page count")
        guard pageCount <= ManifestFormat.maximumPages else {
            throw reader.failure("\(pageCount) pages are more than the limit of \(ManifestFormat.maximumPages)", code: .tooLarge)
        }
        let expectedRemaining = Int(pageCount) * ManifestFormat.pageReferenceBytes + ManifestFormat.signatureBytes
        guard reader.remaining == expectedRemaining else {
            throw reader.failure("\(pageCount) pages and a signature need \(expectedRemaining) bytes, \(reader.remaining) remain")
        }
        var pages: [PageReference] = []
        pages.reserveCapacity(Int(pageCount))
        for _ in 0..<pageCount {
            let hash = try reader.hash("page hash")
            let pageEntries = try reader.integer(UInt32.self, "page entry count")
            let pageBytes = try reader.integer(UInt32.self, "page byte count")
            pages.append(PageReference(hash: hash, entryCount: Int(pageEntries), byteCount: Int(pageBytes)))
        }
        let signature = Array(try reader.bytes(ManifestFormat.signatureBytes, "signature"))
        let createdAt = FileTime(seconds: seconds, nanoseconds: nanoseconds)
        do {
            try Self.checkLayout(createdAt: createdAt, entryCount: Int(entryCount), totalFileBytes: totalFileBytes, pages: pages)
        } catch {
            throw MirrorError(error.code, "the manifest root of \(name): \(error.message)")
        }

        guard name.isAuthority(of: publisher) else {
            throw MirrorError(
                .wrongPublisher,
                "the manifest root offered for \(name) is signed by another key (\(publisher.fingerprint)), not by the mirror's authority")
        }
        guard classifier == name.classifier else {
            throw MirrorError(
                .wrongMirror,
                "the manifest root offered for \(name) is of another mirror of its publisher, \(MirrorError.quoted(classifier))")
        }
        let body = Array(bytes.dropLast(ManifestFormat.signatureBytes))
        guard publisher.isValidSignature(signature, for: ManifestFormat.signatureContext + body) else {
            throw MirrorError(.invalidSignature, "the manifest root of \(name), version \(version), has an invalid signature")
        }
        self.init(
            publisher: publisher, classifier: classifier, version: version, createdAt: createdAt, entryCount: Int(entryCount),
            totalFileBytes: totalFileBytes, pages: pages, signature: signature)
    }

    /// Refuses `successor` unless it is a newer version of the same mirror: a follower never goes
    /// back to an older version, whoever replays it.
    public func accepts(successor: ManifestRoot) throws(MirrorError) {
        guard successor.publisher == publisher else {
            throw MirrorError(.wrongPublisher, "a version offered for \(name) is signed by another key (\(successor.publisher.fingerprint))")
        }
        guard successor.classifier == classifier else {
            throw MirrorError(.wrongMirror, "a version offered for \(name) is of another mirror, \(MirrorError.quoted(successor.classifier))")
        }
        guard successor.version > version else {
            let relation = successor.version == version ? "the version already held" : "older than version \(version), already held"
            throw MirrorError(.staleVersion, "version \(successor.version) of \(name) is \(relation)")
        }
    }

    /// The pages of this root not among `known`, in order and each once: what a follower that
    /// holds an earlier version must fetch.
    public func missingPages(given known: Set<HashValue>) -> [HashValue] {
        var seen = known
        return pages.compactMap { seen.insert($0.hash).inserted ? $0.hash : nil }
    }

    /// The limits and sums a root must keep, whether it is being signed or was decoded.
    static func checkLayout(createdAt: FileTime, entryCount: Int, totalFileBytes: UInt64, pages: [PageReference]) throws(MirrorError) {
        guard createdAt.nanoseconds < 1_000_000_000 else {
            throw MirrorError(.malformed, "the creation time has \(createdAt.nanoseconds) nanoseconds, not less than a second")
        }
        guard entryCount >= 0, entryCount <= ManifestFormat.maximumEntries else {
            throw MirrorError(.tooLarge, "\(entryCount) entries are more than the limit of \(ManifestFormat.maximumEntries)")
        }
        guard pages.count <= ManifestFormat.maximumPages else {
            throw MirrorError(.tooLarge, "\(pages.count) pages are more than the limit of \(ManifestFormat.maximumPages)")
        }
        guard totalFileBytes <= UInt64(entryCount) * ManifestFormat.maximumFileBytes else {
            throw MirrorError(.malformed, "\(totalFileBytes) file bytes are more than \(entryCount) entries can hold")
        }
        var listedEntries = 0
        var seen = Set<HashValue>(minimumCapacity: pages.count)
        for (index, page) in pages.enumerated() {
            guard page.hash.count == 32 else {
                throw MirrorError(.malformed, "page \(index) is named by \(page.hash.count) bytes, not a SHA-256 digest")
            }
            // Each count is bounded by its page's size, so the sum cannot overflow.
            guard page.byteCount >= 0, page.byteCount <= ManifestFormat.maximumPageBytes else {
                throw MirrorError(.tooLarge, "page \(index) has \(page.byteCount) bytes, more than the limit of \(ManifestFormat.maximumPageBytes)")
            }
            guard page.entryCount >= 1, page.entryCount <= page.byteCount / ManifestFormat.minimumEntryBytes else {
                throw MirrorError(.malformed, "page \(index) cannot hold \(page.entryCount) entries in \(page.byteCount) bytes")
            }
            guard seen.insert(page.hash).inserted else {
                throw MirrorError(.malformed, "page \(index), \(page.hash.hex.prefix(16))…, is listed twice")
            }
            listedEntries += page.entryCount
        }
        guard listedEntries == entryCount else {
            throw MirrorError(.malformed, "the pages hold \(listedEntries) entries, the root says \(entryCount)")
        }
    }

    private static func encodeBody(
        publisher: PeerKey, classifier: String, version: UInt64, createdAt: FileTime,
        entryCount: Int, totalFileBytes: UInt64, pages: [PageReference]
    ) -> [UInt8] {
        var writer = FieldWriter(capacity: 140 + pages.count * ManifestFormat.pageReferenceBytes + ManifestFormat.signatureBytes)
        writer.append(contentsOf: ManifestFormat.magic)
        writer.append(ManifestFormat.version)
        writer.append(contentsOf: publisher.bytes)
        writer.append(UInt8(classifier.utf8.count))
        writer.append(contentsOf: classifier.utf8)
        writer.append(version)
        writer.append(createdAt.seconds)
        writer.append(createdAt.nanoseconds)
        writer.append(UInt32(entryCount))
        writer.append(totalFileBytes)
        writer.append(UInt32(pages.count))
        for page in pages {
            writer.append(page.hash)
            writer.append(UInt32(page.entryCount))
            writer.append(UInt32(page.byteCount))
        }
        return writer.bytes
    }
}
