import Crypto
import PeerDistHashing
import Testing
@testable import PeerDist
@testable import PeerDistWire
@testable import PeerDistMirror

/// Mirror names, and manifests from the publisher's `build` to the follower's decode and
/// `assemble`: round trips, content-defined pages, signatures, versions, and hostile input.
@Suite struct MirrorManifestTests {
    static let publisher = NodeIdentity.generate()
    static let stranger = NodeIdentity.generate()
    static let time = FileTime(seconds: 1_700_000_000, nanoseconds: 123_456_789)
    static let name = try! MirrorName(publisher: publisher.publicKey, classifier: "docs")

    // MARK: Entries

    static func chunk(_ seed: UInt64, length: UInt32 = 65_536) -> ChunkReference {
        var bytes = [UInt8](repeating: 0x5A, count: 24)
        withUnsafeBytes(of: seed.bigEndian) { bytes.append(contentsOf: $0) }
        return ChunkReference(hash: HashValue(bytes), length: length)
    }

    static func file(_ path: String, chunks: [ChunkReference] = [chunk(1)], mode: UInt32 = 0o644) -> MirrorEntry {
        MirrorEntry(path: path, kind: .file(chunks: chunks), mode: mode, modified: time)
    }

    static func directory(_ path: String) -> MirrorEntry {
        MirrorEntry(path: path, kind: .directory, mode: 0o755, modified: time)
    }

    static func link(_ path: String, _ target: String) -> MirrorEntry {
        MirrorEntry(path: path, kind: .symlink(target: target), mode: 0o777, modified: time)
    }

    /// A tree with every kind of entry: files with chunks and empty ones, empty and nested
    /// directories, links within the tree and dangling ones.
    static let sampleTree: [MirrorEntry] = [
        file("README", chunks: [chunk(1, length: 100)]),
        directory("src"),
        file("src/main.swift", chunks: [chunk(2), chunk(3, length: 131_072), chunk(4, length: 1)], mode: 0o755),
        MirrorEntry(path: "src/empty", kind: .file(chunks: []), mode: 0o600, modified: FileTime(seconds: -5, nanoseconds: 999_999_999)),
        directory("src/empty-dir"),
        directory("docs"),
        directory("docs/deep"),
        directory("docs/deep/er"),
        link("docs/deep/er/up", "../../../src/main.swift"),
        link("latest", "docs/deep"),
        link("dangling", "no/such/file"),
        file("docs/ünïcödé name.txt", chunks: [chunk(5, length: 7)], mode: 0o4755),
    ]

    // MARK: Follower side

    /// What a follower does with a version: decode the root for the name it follows, then
    /// assemble the pages.
    static func follow(_ manifest: MirrorManifest, as name: MirrorName = name) throws(MirrorError) -> MirrorManifest {
        let root = try ManifestRoot(decoding: manifest.root.encoded(), expecting: name)
        var pages: [HashValue: [UInt8]] = [:]
        for page in manifest.pages { pages[page.hash] = page.bytes }
        return try MirrorManifest.assemble(root: root, pages: pages)
    }

    /// A manifest of `entries` as a hostile publisher would send it: encoded as given, without
    /// sorting or checks, and properly signed, then taken in by a follower.
    static func followHostile(_ entries: [MirrorEntry]) throws(MirrorError) -> MirrorManifest {
        let pages = ManifestPage.paginate(entries)
        let root = try ManifestRoot.signed(
            by: publisher, classifier: name.classifier, version: 1, createdAt: time, entryCount: entries.count,
            totalFileBytes: entries.reduce(0) { $0 + $1.size }, pages: pages.map(\.reference))
        let decoded = try ManifestRoot(decoding: root.encoded(), expecting: name)
        return try MirrorManifest.assemble(root: decoded, pages: Dictionary(uniqueKeysWithValues: pages.map { ($0.hash, $0.bytes) }))
    }

    /// A root's bytes signed again by the publisher after they were edited.
    static func resigned(_ bytes: [UInt8], by identity: NodeIdentity = publisher) -> [UInt8] {
        let body = Array(bytes.dropLast(ManifestFormat.signatureBytes))
        return body + identity.sign(ManifestFormat.signatureContext + body)
    }

    // MARK: Names

    @Test func nameRoundTripsAndNamesItsAuthority() throws {
        let name = try MirrorName(publisher: Self.publisher.publicKey, classifier: "Build_2024.x-86")
        #expect(name.description == "\(name.authority).Build_2024.x-86")
        #expect(try MirrorName(parsing: name.description) == name)
        #expect(try MirrorName(parsing: name.authority.uppercased() + ".Build_2024.x-86") == name)

        var sha = SHA256()
        sha.update(data: Array("PeerDist mirror authority v1".utf8))
        sha.update(data: Self.publisher.publicKey.bytes)
        #expect(name.authority == Hex.encode(Array(sha.finalize()).prefix(20)))
        #expect(name.isAuthority(of: Self.publisher.publicKey))
        #expect(!name.isAuthority(of: Self.stranger.publicKey))
        #expect(!name.isAuthority(of: PeerKey([1, 2, 3])))

        // Derived keys: distinct from each other, from another classifier's, and keyed by the text.
        let other = try MirrorName(publisher: Self.publisher.publicKey, classifier: "Build_2024.x-87")
        #expect(name.discoveryKey != name.rootKey)
        #expect(name.discoveryKey != other.discoveryKey)
        #expect(name.rootKey != other.rootKey)
        let label = SymmetricKey(data: Array("PeerDist mirror discovery key v1".utf8))
        #expect(name.discoveryKey == HashValue(HMAC<SHA256>.authenticationCode(for: Array(name.description.utf8), using: label)))
        #expect(try MirrorName(parsing: "\(name.authority).a").classifier == "a")
        #expect(try MirrorName(parsing: "\(name.authority).\(String(repeating: "z", count: 64))").classifier.count == 64)
    }

    static let authority = String(repeating: "ab", count: 20)
    static let badNames: [(text: String, problem: String)] = [
        ("", "needs a '.'"),
        ("docs", "needs a '.'"),
        ("\(authority.dropLast()).docs", "the authority must be 40 hex digits"),
        ("\(authority)a.docs", "the authority must be 40 hex digits"),
        ("\(authority.dropLast())g.docs", "the authority must be 40 hex digits"),
        (".docs", "the authority must be 40 hex digits"),
        ("\(authority).", "the classifier is empty"),
        ("\(authority)..docs", "must not start with '.' or '-'"),
        ("\(authority).-docs", "must not start with '.' or '-'"),
        ("\(authority).my docs", "only letters, digits"),
        ("\(authority).döcs", "only letters, digits"),
        ("\(authority).a/b", "only letters, digits"),
        ("\(authority).\(String(repeating: "z", count: 65))", "more than 64"),
    ]

    @Test(arguments: badNames)
    func malformedNamesAreRefused(text: String, problem: String) {
        let error = #expect(throws: MirrorError.self) { try MirrorName(parsing: text) }
        #expect(error?.code == .invalidName)
        #expect(error?.message.contains("is not a mirror name: ") == true)
        #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
    }

    @Test func namesRefuseBadClassifiersAndKeys() {
        let classifier = #expect(throws: MirrorError.self) { try MirrorName(publisher: Self.publisher.publicKey, classifier: ".hidden") }
        #expect(classifier?.code == .invalidName)
        let key = #expect(throws: MirrorError.self) { try MirrorName(publisher: PeerKey([1, 2, 3]), classifier: "docs") }
        #expect(key?.message.contains("32 bytes") == true)
    }

    // MARK: Round trips

    @Test func buildEncodeDecodeAssembleRoundTrips() throws {
        var generator = SeededGenerator(seed: 7)
        let built = try MirrorManifest.build(
            entries: Self.sampleTree.shuffled(using: &generator), classifier: "docs", version: 3, identity: Self.publisher, createdAt: Self.time)
        #expect(built.entries.map(\.path) == Self.sampleTree.map(\.path).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(built.name == Self.name)
        #expect(built.publisher == Self.publisher.publicKey)
        #expect(built.version == 3)
        #expect(built.root.entryCount == Self.sampleTree.count)
        #expect(built.root.totalFileBytes == Self.sampleTree.reduce(0) { $0 + $1.size })
        #expect(built.root.createdAt == Self.time)

        let followed = try Self.follow(built)
        #expect(followed.entries == built.entries)
        #expect(followed.root == built.root)
        #expect(followed.pageHashes == built.pageHashes)
        #expect(followed.root.encoded() == built.root.encoded())
        for hash in built.pageHashes {
            #expect(followed.page(hash) == built.page(hash))
        }
        #expect(built.page(HashValue([UInt8](repeating: 0, count: 32))) == nil)
        #expect(built.missingPages(given: Set(built.pageHashes)).isEmpty)
        #expect(built.missingPages(given: []) == built.pageHashes)

        // The root travels sealed under the name; another name cannot open it.
        let sealed = SealedManifestRoot.seal(built.root.encoded(), for: Self.name)
        #expect(try SealedManifestRoot.open(sealed, for: Self.name) == built.root.encoded())
        let other = try MirrorName(publisher: Self.publisher.publicKey, classifier: "other")
        #expect(throws: MirrorError.self) { try SealedManifestRoot.open(sealed, for: other) }
        #expect(throws: MirrorError.self) { try SealedManifestRoot.open(Array(sealed.prefix(20)), for: Self.name) }
    }

    @Test func emptyMirrorHasNoPages() throws {
        let built = try MirrorManifest.build(entries: [], classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time)
        #expect(built.pages.isEmpty)
        let followed = try Self.follow(built)
        #expect(followed.entries.isEmpty)
        #expect(followed.root == built.root)
    }

    @Test func largeEntriesGetPagesOfTheirOwnWithinTheLimits() throws {
        // Entries of ~36 KiB each: a page is cut after the entry that takes it past 64 KiB.
        let chunks = (0..<1000).map { Self.chunk(UInt64($0)) }
        let entries = (0..<10).map { Self.file("big\($0)", chunks: chunks) }
        let built = try MirrorManifest.build(entries: entries, classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time)
        #expect(built.pages.count >= 5)
        for page in built.pages {
            #expect(page.entryCount >= 1)
            #expect(page.bytes.count < ManifestFormat.targetPageBytes + entries[0].encodedByteCount)
        }
        #expect(try Self.follow(built).entries == built.entries)

        // One entry that cannot fit a 16 MiB page is refused before anything is signed.
        let tooMany = Array(repeating: Self.chunk(1, length: 1), count: ManifestFormat.maximumPageBytes / ManifestFormat.chunkBytes + 1)
        let error = #expect(throws: MirrorError.self) {
            try MirrorManifest.build(entries: [Self.file("huge", chunks: tooMany)], classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time)
        }
        #expect(error?.code == .tooLarge)
    }

    // MARK: Content-defined pages

    /// 100 directories of 1 000 files each, in path order.
    static let bigTree: [MirrorEntry] = (0..<100).flatMap { directoryIndex -> [MirrorEntry] in
        let directoryPath = "dir" + padded(directoryIndex, to: 2)
        return [directory(directoryPath)] + (0..<1000).map { fileIndex in
            let seed = UInt64(directoryIndex * 1000 + fileIndex)
            return file("\(directoryPath)/file-\(padded(fileIndex, to: 4)).dat", chunks: [chunk(seed, length: 4096 + UInt32(fileIndex))])
        }
    }

    static func padded(_ number: Int, to width: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    @Test func smallChangesToALargeTreeChangeOneOrTwoPages() throws {
        let original = try MirrorManifest.build(entries: Self.bigTree, classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time)
        #expect(original.entries.count == 100_100)
        #expect(original.pages.count > 200)
        #expect(original.pages.count < 800)

        var changed = Self.bigTree
        changed[50_505] = Self.file(changed[50_505].path, chunks: [Self.chunk(999_999), Self.chunk(1_000_000)])
        var added = Self.bigTree
        added.append(Self.file("dir42/new-file", chunks: [Self.chunk(2_000_000)]))

        for tree in [changed, added] {
            // Paging alone: `build` would check and sign the same entries again.
            let pages = ManifestPage.paginate(MirrorManifest.sortedByPath(tree)).map(\.hash)
            let new = Set(pages).subtracting(original.pageHashes)
            #expect(new.count >= 1)
            #expect(new.count <= 2)
            #expect(Set(original.pageHashes).subtracting(pages).count <= 2)
        }
    }

    @Test func aFollowerFetchesOnlyTheChangedPages() throws {
        let entries = (0..<2000).map { Self.file("f\($0)", chunks: [Self.chunk(UInt64($0))]) }
        let first = try MirrorManifest.build(entries: entries, classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time)
        var edited = entries
        edited[1234] = Self.file("f1234", chunks: [Self.chunk(77_777)])
        let second = try MirrorManifest.build(entries: edited, classifier: "docs", version: 2, identity: Self.publisher, createdAt: Self.time)

        let root = try ManifestRoot(decoding: second.root.encoded(), expecting: Self.name)
        try first.accepts(successor: root)
        let missing = root.missingPages(given: Set(first.pageHashes))
        #expect(missing.count == 1)
        var pages: [HashValue: [UInt8]] = [:]
        for hash in root.pageHashes where !missing.contains(hash) { pages[hash] = first.page(hash) }
        for hash in missing { pages[hash] = second.page(hash) }
        #expect(try MirrorManifest.assemble(root: root, pages: pages).entries == second.entries)
    }

    // MARK: Signatures and versions

    @Test func aRootSignedByAnotherKeyIsRefusedAsSuch() throws {
        let forged = try MirrorManifest.build(entries: Self.sampleTree, classifier: "docs", version: 9, identity: Self.stranger, createdAt: Self.time)
        let error = #expect(throws: MirrorError.self) { try ManifestRoot(decoding: forged.root.encoded(), expecting: Self.name) }
        #expect(error?.code == .wrongPublisher)
        #expect(error?.message.contains("signed by another key") == true)

        // The publisher's key in place of the stranger's leaves a signature that does not verify.
        var swapped = forged.root.encoded()
        swapped.replaceSubrange(6..<38, with: Self.publisher.publicKey.bytes)
        let invalid = #expect(throws: MirrorError.self) { try ManifestRoot(decoding: swapped, expecting: Self.name) }
        #expect(invalid?.code == .invalidSignature)

        // Any edit of the signed bytes breaks the signature.
        let genuine = try MirrorManifest.build(entries: Self.sampleTree, classifier: "docs", version: 9, identity: Self.publisher, createdAt: Self.time)
        var bumped = genuine.root.encoded()
        bumped[4 + 2 + 32 + 1 + 4 + 7] ^= 1  // the last byte of the version
        let edited = #expect(throws: MirrorError.self) { try ManifestRoot(decoding: bumped, expecting: Self.name) }
        #expect(edited?.code == .invalidSignature)

        // Another mirror of the same publisher is not this one.
        let sibling = try MirrorManifest.build(entries: Self.sampleTree, classifier: "photos", version: 9, identity: Self.publisher, createdAt: Self.time)
        let otherMirror = #expect(throws: MirrorError.self) { try ManifestRoot(decoding: sibling.root.encoded(), expecting: Self.name) }
        #expect(otherMirror?.code == .wrongMirror)
    }

    @Test func equalAndOlderVersionsAreRefused() throws {
        func root(_ version: UInt64, classifier: String = "docs", identity: NodeIdentity = Self.publisher) throws -> ManifestRoot {
            try MirrorManifest.build(entries: Self.sampleTree, classifier: classifier, version: version, identity: identity, createdAt: Self.time).root
        }
        let held = try MirrorManifest.build(entries: Self.sampleTree, classifier: "docs", version: 5, identity: Self.publisher, createdAt: Self.time)
        try held.accepts(successor: try root(6))
        try held.accepts(successor: try root(UInt64.max))
        let equal = #expect(throws: MirrorError.self) { try held.accepts(successor: try root(5)) }
        #expect(equal?.code == .staleVersion)
        #expect(equal?.message.contains("version 5 of \(Self.name) is the version already held") == true)
        let older = #expect(throws: MirrorError.self) { try held.accepts(successor: try root(4)) }
        #expect(older?.code == .staleVersion)
        #expect(older?.message.contains("older than version 5") == true)
        let sibling = #expect(throws: MirrorError.self) { try held.accepts(successor: try root(6, classifier: "photos")) }
        #expect(sibling?.code == .wrongMirror)
        let stranger = #expect(throws: MirrorError.self) { try held.accepts(successor: try root(6, identity: Self.stranger)) }
        #expect(stranger?.code == .wrongPublisher)
    }

    // MARK: Pages

    @Test func tamperedOrMissingPagesAreRefused() throws {
        let entries = (0..<3000).map { Self.file("f\($0)") }
        let built = try MirrorManifest.build(entries: entries, classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time)
        #expect(built.pages.count > 2)
        var pages = Dictionary(uniqueKeysWithValues: built.pages.map { ($0.hash, $0.bytes) })

        let victim = built.pages[1].hash
        pages[victim]?[10] ^= 0x40
        let tampered = #expect(throws: MirrorError.self) { try MirrorManifest.assemble(root: built.root, pages: pages) }
        #expect(tampered?.code == .corruptPage)

        pages[victim] = built.pages[0].bytes
        let swapped = #expect(throws: MirrorError.self) { try MirrorManifest.assemble(root: built.root, pages: pages) }
        #expect(swapped?.code == .corruptPage)

        pages[victim] = nil
        let missing = #expect(throws: MirrorError.self) { try MirrorManifest.assemble(root: built.root, pages: pages) }
        #expect(missing?.code == .missingPage)
    }

    // MARK: Safety rules, checked by the follower

    struct HostileCase: CustomTestStringConvertible, Sendable {
        let label: String
        let entries: [MirrorEntry]
        let code: MirrorError.Code
        let says: String
        /// Whether the publisher's `build` refuses it too (it sorts, so disorder is not its error).
        var buildRefuses = true
        var testDescription: String { label }
    }

    static let hostileCases: [HostileCase] = [
        HostileCase(label: "empty path", entries: [file("")], code: .unsafePath, says: "empty path"),
        HostileCase(label: "absolute", entries: [file("/etc/passwd")], code: .unsafePath, says: "\"/etc/passwd\" is not a safe path: it is absolute"),
        HostileCase(label: "empty component", entries: [directory("a"), file("a//b")], code: .unsafePath, says: "empty component"),
        HostileCase(label: "trailing slash", entries: [directory("a/")], code: .unsafePath, says: "empty component"),
        HostileCase(label: "dot", entries: [file("./a")], code: .unsafePath, says: "'.' component"),
        HostileCase(label: "dot dot", entries: [directory("a"), file("a/../../escape")], code: .unsafePath, says: "\"a/../../escape\" is not a safe path: it has a '..' component"),
        HostileCase(label: "only dot dot", entries: [file("..")], code: .unsafePath, says: "'..' component"),
        HostileCase(label: "NUL", entries: [file("a\0b")], code: .unsafePath, says: "NUL"),
        HostileCase(label: "long path", entries: [file(String(repeating: "p", count: 4097))], code: .unsafePath, says: "4097 bytes, more than 4096"),
        HostileCase(label: "long component", entries: [file(String(repeating: "c", count: 256))], code: .unsafePath, says: "256 bytes, more than 255"),
        HostileCase(label: "reserved", entries: [file(".peerdist-staging")], code: .unsafePath, says: "reserved for the follower's staging files"),
        HostileCase(label: "reserved deep", entries: [directory("d"), directory("d/.peerdist-x")], code: .unsafePath, says: "reserved"),
        HostileCase(label: "duplicate", entries: [file("a"), directory("a")], code: .collision, says: "\"a\" appears twice: the names collide"),
        HostileCase(label: "unsorted", entries: [file("b"), file("a")], code: .unsorted, says: "\"a\" comes after \"b\"", buildRefuses: false),
        HostileCase(label: "no parent", entries: [file("a/b")], code: .missingParent, says: "\"a/b\" is in \"a\", which is not a directory entry"),
        HostileCase(label: "file under a file", entries: [file("a"), file("a/b")], code: .missingParent, says: "which is a file"),
        HostileCase(label: "file under a link", entries: [link("a", "d"), file("a/b"), directory("d")], code: .missingParent, says: "which is a symbolic link"),
        HostileCase(label: "mode", entries: [file("a", mode: 0o10000)], code: .invalidEntry, says: "mode 0o10000"),
        HostileCase(
            label: "nanoseconds", entries: [MirrorEntry(path: "a", kind: .directory, mode: 0o755, modified: FileTime(seconds: 0, nanoseconds: 1_000_000_000))],
            code: .invalidEntry, says: "nanoseconds"),
        HostileCase(label: "empty chunk", entries: [file("a", chunks: [chunk(1, length: 0)])], code: .invalidEntry, says: "chunk 0 has 0 bytes"),
        HostileCase(label: "oversized chunk", entries: [file("a", chunks: [chunk(1), chunk(2, length: 131_073)])], code: .invalidEntry, says: "chunk 1 has 131073 bytes"),
        HostileCase(label: "empty target", entries: [link("l", "")], code: .invalidEntry, says: "empty target"),
        HostileCase(label: "NUL in target", entries: [link("l", "a\0b")], code: .invalidEntry, says: "NUL"),
        HostileCase(label: "long target", entries: [link("l", String(repeating: "t/", count: 2049))], code: .invalidEntry, says: "4098 bytes"),
        HostileCase(label: "absolute target", entries: [link("l", "/etc/shadow")], code: .unsafeSymlink, says: "absolute path"),
        HostileCase(label: "parent target", entries: [link("l", "../outside")], code: .unsafeSymlink, says: "\"l\" -> \"../outside\" leads out of the mirror"),
        HostileCase(label: "deep parent target", entries: [directory("d"), link("d/l", "../../x")], code: .unsafeSymlink, says: "leads out"),
        HostileCase(label: "through a missing directory", entries: [link("l", "missing/../../x")], code: .unsafeSymlink, says: "leads out"),
        HostileCase(label: "through the root itself", entries: [link("a", "."), link("b", "a/a/a/..")], code: .unsafeSymlink, says: "\"b\""),
        // Read as text, `d/b/../..` is the root; resolved, `d/b` is the root and `..` leaves it.
        HostileCase(
            label: "escape only resolution sees", entries: [directory("d"), link("d/b", ".."), link("l", "d/b/../..")],
            code: .unsafeSymlink, says: "\"l\" -> \"d/b/../..\" leads out of the mirror"),
        HostileCase(
            label: "through a later link", entries: [link("a", "z/y"), link("z", "..")],
            code: .unsafeSymlink, says: "\"a\" -> \"z/y\" leads out of the mirror: it goes above the root at \"z\" -> \"..\""),
        HostileCase(label: "loop", entries: [link("a", "b"), link("b", "a")], code: .unsafeSymlink, says: "loops"),
        HostileCase(label: "self loop", entries: [link("a", "a/x")], code: .unsafeSymlink, says: "loops"),
        HostileCase(label: "41 links", entries: chain(41), code: .unsafeSymlink, says: "within 40 symbolic links"),
    ]

    /// `l00 -> l01 -> … -> d`, `length` links.
    static func chain(_ length: Int) -> [MirrorEntry] {
        let names = (0...length).map { $0 < 10 ? "l0\($0)" : "l\($0)" }
        return [directory("d")] + (0..<length).map { link(names[$0], $0 == length - 1 ? "d" : names[$0 + 1]) }
    }

    @Test(arguments: hostileCases)
    func hostileManifestsAreRefusedByTheFollower(_ hostile: HostileCase) throws {
        let error = #expect(throws: MirrorError.self) { try Self.followHostile(hostile.entries) }
        #expect(error?.code == hostile.code)
        #expect(error?.message.contains(hostile.says) == true, "\(error?.message ?? "")")
        // Refused by `assemble`, which names the version, not by signing or decoding.
        #expect(error?.message.hasPrefix("\(Self.name) version 1: ") == true)
        if hostile.buildRefuses {
            let refused = #expect(throws: MirrorError.self) {
                try MirrorManifest.build(entries: hostile.entries, classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time)
            }
            #expect(refused?.code == hostile.code)
        }
    }

    @Test func linksThatStayInsideAreAccepted() throws {
        let entries = [
            Self.directory("a"), Self.directory("a/b"), Self.link("a/b/up", "../.."), Self.link("a/b/sibling", "../../c/./x"),
            Self.directory("c"), Self.link("c/x", "../a/b/up/c"), Self.link("dot", "."), Self.link("dots", "dot/dot/dot/a"),
        ] + Self.chain(40)
        #expect(try Self.followHostile(MirrorManifest.sortedByPath(entries)).entries.count == entries.count)
    }

    @Test func rootsWhoseCountsDisagreeWithTheirPagesAreRefused() throws {
        let entries = [Self.file("a"), Self.file("b")]
        let pages = ManifestPage.paginate(entries)
        // A root claiming more file bytes than the entries hold.
        let root = try ManifestRoot.signed(
            by: Self.publisher, classifier: "docs", version: 1, createdAt: Self.time, entryCount: 2, totalFileBytes: 1, pages: pages.map(\.reference))
        let pageBytes = Dictionary(uniqueKeysWithValues: pages.map { ($0.hash, $0.bytes) })
        let bytesDisagree = #expect(throws: MirrorError.self) { try MirrorManifest.assemble(root: root, pages: pageBytes) }
        #expect(bytesDisagree?.code == .malformed)

        // A page that holds more entries than the root gives it.
        let merged = ManifestPage(bytes: pages.flatMap(\.bytes), entryCount: 1)
        let short = try ManifestRoot.signed(
            by: Self.publisher, classifier: "docs", version: 1, createdAt: Self.time, entryCount: 1, totalFileBytes: 65_536 * 2, pages: [merged.reference])
        let countsDisagree = #expect(throws: MirrorError.self) { try MirrorManifest.assemble(root: short, pages: [merged.hash: merged.bytes]) }
        #expect(countsDisagree?.code == .corruptPage)

        // Empty pages and page counts out of proportion are refused even when signed.
        #expect(throws: MirrorError.self) {
            try ManifestRoot.signed(
                by: Self.publisher, classifier: "docs", version: 1, createdAt: Self.time, entryCount: 0, totalFileBytes: 0,
                pages: [ManifestRoot.PageReference(hash: merged.hash, entryCount: 0, byteCount: 0)])
        }
        var empty = try MirrorManifest.build(entries: [], classifier: "docs", version: 1, identity: Self.publisher, createdAt: Self.time).root.encoded()
        empty = Array(empty.dropLast(4 + 64)) + [0, 0, 0, 1] + merged.hash.bytes + [0, 0, 0, 0, 0, 0, 0, 0] + Array(repeating: 0, count: 64)
        let emptyPage = #expect(throws: MirrorError.self) { try ManifestRoot(decoding: Self.resigned(empty), expecting: Self.name) }
        #expect(emptyPage?.message.contains("cannot hold 0 entries") == true)
    }

    // MARK: Garbage never crashes

    @Test func everyTruncationAndByteFlipOfARootIsRefused() throws {
        let built = try MirrorManifest.build(entries: Self.sampleTree, classifier: "docs", version: 2, identity: Self.publisher, createdAt: Self.time)
        let bytes = built.root.encoded()
        for length in 0..<bytes.count {
            #expect(throws: MirrorError.self) { try ManifestRoot(decoding: Array(bytes.prefix(length)), expecting: Self.name) }
        }
        #expect(throws: MirrorError.self) { try ManifestRoot(decoding: bytes + [0], expecting: Self.name) }
        for index in bytes.indices {
            var flipped = bytes
            flipped[index] ^= 0x01
            #expect(throws: MirrorError.self) { try ManifestRoot(decoding: flipped, expecting: Self.name) }
        }
    }

    @Test func hugeClaimedCountsAreRefusedBeforeAllocating() throws {
        let built = try MirrorManifest.build(entries: Self.sampleTree, classifier: "docs", version: 2, identity: Self.publisher, createdAt: Self.time)
        let bytes = built.root.encoded()
        let pageCountOffset = 4 + 2 + 32 + 1 + 4 + 8 + 8 + 4 + 4 + 8
        var manyPages = bytes
        manyPages.replaceSubrange(pageCountOffset..<pageCountOffset + 4, with: [0xFF, 0xFF, 0xFF, 0xFF])
        let pages = #expect(throws: MirrorError.self) { try ManifestRoot(decoding: Self.resigned(manyPages), expecting: Self.name) }
        #expect(pages?.code == .tooLarge)

        // A file entry claiming four billion chunks in a small page.
        var writer = FieldWriter()
        Self.file("a", chunks: []).encode(into: &writer)
        var page = Array(writer.bytes.dropLast(4)) + [0xFF, 0xFF, 0xFF, 0xFF]
        var reference = ManifestRoot.PageReference(hash: HashValue(SHA256.hash(data: page)), entryCount: 1, byteCount: page.count)
        let chunks = #expect(throws: MirrorError.self) { try ManifestPage.decode(page, as: reference) }
        #expect(chunks?.message.contains("claims 4294967295 chunks") == true)

        // A path that is not UTF-8.
        page = [0, 2, 0xC3, 0x28, 2] + Array(repeating: 0, count: 16)
        reference = ManifestRoot.PageReference(hash: HashValue(SHA256.hash(data: page)), entryCount: 1, byteCount: page.count)
        let utf8 = #expect(throws: MirrorError.self) { try ManifestPage.decode(page, as: reference) }
        #expect(utf8?.message.contains("not UTF-8") == true)
    }

    @Test func everyTruncationOfAPageIsRefused() throws {
        let built = try MirrorManifest.build(entries: Self.sampleTree, classifier: "docs", version: 2, identity: Self.publisher, createdAt: Self.time)
        for page in built.pages {
            for length in 0..<page.bytes.count {
                let truncated = Array(page.bytes.prefix(length))
                // The root's description is made to match, so the entry decoder itself meets the cut.
                let reference = ManifestRoot.PageReference(hash: HashValue(SHA256.hash(data: truncated)), entryCount: page.entryCount, byteCount: length)
                #expect(throws: MirrorError.self) { try ManifestPage.decode(truncated, as: reference) }
            }
        }
    }

    @Test func randomBytesNeverCrashTheDecoders() throws {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<2000 {
            let length = Int.random(in: 0..<400, using: &generator)
            var bytes = StoreTestContent.random(count: length, seed: generator.next())
            if round.isMultiple(of: 2), bytes.count >= 6 {
                // Past the magic and version, so the fields behind them are exercised too.
                bytes.replaceSubrange(0..<6, with: Array("PDMF".utf8) + [0, 1])
            }
            #expect(throws: MirrorError.self) { try ManifestRoot(decoding: bytes, expecting: Self.name) }
            #expect(throws: MirrorError.self) { try SealedManifestRoot.open(bytes, for: Self.name) }

            // Random page bytes that the root vouches for: they may decode, but must not crash,
            // and whatever decodes must then pass or fail the safety rules cleanly.
            let reference = ManifestRoot.PageReference(hash: HashValue(SHA256.hash(data: bytes)), entryCount: 1, byteCount: bytes.count)
            if let decoded = try? ManifestPage.decode(bytes, as: reference) {
                _ = try? ManifestValidator.validate(decoded.entries)
            }
        }
    }

    @Test func corruptedPagesNeverCrashTheDecoderOrTheRules() throws {
        let built = try MirrorManifest.build(entries: Self.sampleTree, classifier: "docs", version: 2, identity: Self.publisher, createdAt: Self.time)
        var generator = SeededGenerator(seed: 9)
        var decodedSome = false
        for _ in 0..<3000 {
            var bytes = built.pages.flatMap(\.bytes)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                bytes[Int.random(in: bytes.indices, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            // Vouched for by the root, so the damage reaches the entry decoder and then the rules.
            let reference = ManifestRoot.PageReference(
                hash: HashValue(SHA256.hash(data: bytes)), entryCount: built.root.entryCount, byteCount: bytes.count)
            if let decoded = try? ManifestPage.decode(bytes, as: reference) {
                decodedSome = true
                _ = try? ManifestValidator.validate(decoded.entries)
            }
        }
        #expect(decodedSome)
    }
}
