import FuzzSupport
import PeerDistHashing
import PeerDistMirror
import PeerDistWire

/// What a mirror follower reads from the network and from people: mirror names, manifest roots
/// (sealed, then signed), manifest pages and the entries in them with the validator's rules, and
/// manifest diffs applied to the entries it holds.
///
/// The first byte picks the mode:
/// - 0: a mirror name as text, which must print as text that parses to the same name;
/// - 1: a root as received, decoded for a fixed name;
/// - 2: a root body signed by the name's own publisher (the fuzzer cannot forge signatures, a
///   hostile publisher can sign anything): it must decode, encode back to its bytes;
/// - 3: `entryCount(2) page`: a page decoded against a reference that fits it, its entries
///   validated; valid entries must paginate back to the same bytes and survive a diff;
/// - 4: a diff, which must encode to bytes that decode to it, applied to a fixed version; a
///   result that validates must be rebuilt exactly by the diff between the two;
/// - 5: a sealed root opened for a fixed name;
/// - 6: a snapshot root (a directory by hash), which must encode back to its bytes, be accepted
///   for the ID of those bytes and refused for any other;
/// - 7: a snapshot ID or `ID/PATH` as text, whose ID must print as text that parses to it.
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    switch Fuzzing.take(1, from: &bytes) % 8 {
    case 0:
        let text = String(decoding: bytes, as: UTF8.self)
        if let name = try? MirrorName(parsing: text) {
            Fuzzing.check((try? MirrorName(parsing: name.description)) == name, "mirror name \(text.debugDescription) prints as \(name), which parses otherwise")
        }
        let suggested = MirrorName.classifier(suggestedBy: text)
        Fuzzing.check((try? MirrorName(publisher: publisher.publicKey, classifier: suggested)) != nil, "the suggested classifier \(suggested.debugDescription) is refused")
    case 1:
        if let root = try? ManifestRoot(decoding: Array(bytes), expecting: name) {
            checkRoot(root, bytes: Array(bytes))
        }
    case 2:
        // The publisher key is the name's (bytes 6..<38); the classifier names the mirror.
        var body = Array(bytes.prefix(ManifestFormatLimits.maximumSignedBody))
        body += [UInt8](repeating: 0, count: max(0, 39 - body.count))
        body.replaceSubrange(6..<38, with: publisher.publicKey.bytes)
        let classifierLength = Int(body[38])
        let classifier = String(decoding: body.dropFirst(39).prefix(classifierLength), as: UTF8.self)
        let expected = (try? MirrorName(publisher: publisher.publicKey, classifier: classifier)) ?? name
        let signed = body + publisher.sign(ManifestFormat.signatureContext + body)
        if let root = try? ManifestRoot(decoding: signed, expecting: expected) {
            checkRoot(root, bytes: signed)
        }
    case 3:
        let entryCount = Fuzzing.take(2, from: &bytes)
        let page = Array(bytes)
        let reference = ManifestRoot.PageReference(hash: HashAlgorithm.sha256.digest(page), entryCount: entryCount, byteCount: page.count)
        guard let (decoded, entries) = try? ManifestPage.decode(page, as: reference) else { return }
        Fuzzing.check(decoded.bytes == page && entries.count == entryCount, "a decoded page is not its bytes and entries")
        guard (try? ManifestValidator.validate(entries)) != nil else { return }
        let pages = ManifestPage.paginate(entries)
        Fuzzing.check(pages.flatMap(\.bytes) == page, "valid entries do not paginate back to their page's bytes")
        Fuzzing.check(pages.reduce(0) { $0 + $1.entryCount } == entries.count, "pagination lost entries")
        checkDiff(from: base, to: entries)
        checkDiff(from: entries, to: base)
    case 4:
        let encoded = Array(bytes)
        guard let diff = try? ManifestDiff(decoding: encoded) else { return }
        do {
            Fuzzing.check(try ManifestDiff(decoding: diff.encoded()) == diff, "decode → encode → decode changed a manifest diff")
        } catch {
            Fuzzing.check(false, "a re-encoded manifest diff was refused: \(error)")
        }
        guard let result = try? diff.apply(to: base), (try? ManifestValidator.validate(result)) != nil else { return }
        checkDiff(from: base, to: result)
    case 5:
        if let opened = try? SealedManifestRoot.open(Array(bytes), for: name) {
            Fuzzing.check(opened.count == bytes.count - 28, "an opened root has \(opened.count) bytes of \(bytes.count) sealed")
        }
    case 6:
        let encoded = Array(bytes)
        guard let root = try? SnapshotRoot(decoding: encoded) else { return }
        Fuzzing.check(root.encoded() == encoded, "a decoded snapshot root does not encode back to its bytes")
        Fuzzing.check((try? SnapshotRoot(decoding: encoded, expecting: root.id)) == root, "a snapshot root is refused for its own ID")
        Fuzzing.check((try? SnapshotRoot(decoding: encoded, expecting: snapshotID)) == nil || root.id == snapshotID, "a snapshot root is accepted for another ID")
        let sealed = SealedManifestRoot.seal(encoded, for: root.id)
        Fuzzing.check((try? SealedManifestRoot.open(sealed, for: root.id)) == encoded, "a sealed snapshot root does not open to itself")
        Fuzzing.check((try? SealedManifestRoot.open(sealed, for: snapshotID)) == nil || root.id == snapshotID, "a snapshot root opens for another ID")
    default:
        let text = String(decoding: bytes, as: UTF8.self)
        guard let reference = SnapshotReference(parsing: text) else { return }
        Fuzzing.check(SnapshotID(parsing: reference.id.uri) == reference.id, "snapshot ID \(reference.id) does not parse back from its URI")
        Fuzzing.check(SnapshotID(parsing: reference.id.hex) == reference.id, "snapshot ID \(reference.id) does not parse back from its hex")
        if let path = reference.path {
            Fuzzing.check(!path.isEmpty && !path.hasPrefix("/"), "the path of \(text.debugDescription) is empty or absolute")
        }
    }
}

enum ManifestFormatLimits {
    /// Enough for a root with a few hundred pages, the most a fuzzer input usefully holds.
    static let maximumSignedBody = 16 * 1024
}

let publisher = NodeIdentity.generate()
let name = try! MirrorName(publisher: publisher.publicKey, classifier: "fuzz")

/// A small version: a directory, a file of 20 chunks in it, a link to it and a file at the top.
let base: [MirrorEntry] = {
    let time = FileTime(seconds: 1_700_000_000, nanoseconds: 5)
    let chunks = (0..<20).map { ChunkReference(hash: HashValue([UInt8](repeating: UInt8($0), count: 32)), length: 65536) }
    return [
        MirrorEntry(path: "a", kind: .directory, mode: 0o755, modified: time),
        MirrorEntry(path: "a/f", kind: .file(chunks: chunks), mode: 0o644, modified: time),
        MirrorEntry(path: "l", kind: .symlink(target: "a/f"), mode: 0o777, modified: time),
        MirrorEntry(path: "z", kind: .file(chunks: [chunks[3]]), mode: 0o600, modified: time),
    ]
}()

/// The snapshot of `base`, for the snapshot modes.
let snapshotID = (try! SnapshotManifest.build(entries: base)).id

func checkRoot(_ root: ManifestRoot, bytes: [UInt8]) {
    Fuzzing.check(root.encoded() == bytes, "a decoded manifest root does not encode back to its bytes")
    Fuzzing.check((try? ManifestRoot(decoding: root.encoded(), expecting: root.name)) == root, "decode → encode → decode changed a manifest root")
    Fuzzing.check(root.missingPages(given: []).count == root.pages.count, "a root lists a page twice")
    let sealed = SealedManifestRoot.seal(bytes, for: root.name)
    Fuzzing.check((try? SealedManifestRoot.open(sealed, for: root.name)) == bytes, "a sealed root does not open to itself")
}

/// The diff between two valid versions must encode, decode and rebuild the newer one.
func checkDiff(from old: [MirrorEntry], to new: [MirrorEntry]) {
    let diff = ManifestDiff.between(old, new)
    do {
        let decoded = try ManifestDiff(decoding: diff.encoded())
        Fuzzing.check(decoded == diff, "a diff between valid versions changes when encoded")
        Fuzzing.check(try decoded.apply(to: old) == new, "a diff between valid versions does not rebuild the newer")
    } catch {
        Fuzzing.check(false, "a diff between valid versions fails: \(error)")
    }
}

func makeSeeds() -> [String: [UInt8]] {
    var seeds: [String: [UInt8]] = [:]
    seeds["name"] = [0] + Array(name.description.utf8)
    seeds["name-upper-case"] = [0] + Array(name.description.uppercased().utf8)
    let pages = ManifestPage.paginate(base)
    let root = try! ManifestRoot.signed(
        by: publisher, classifier: "fuzz", version: 3, createdAt: FileTime(seconds: 1_700_000_000, nanoseconds: 0),
        entryCount: base.count, totalFileBytes: 21 * 65536, pages: pages.map(\.reference))
    seeds["root"] = [1] + root.encoded()
    seeds["root-body"] = [2] + root.encoded().dropLast(64)
    for (index, page) in pages.enumerated() {
        seeds["page-\(index)"] = [3, UInt8(page.entryCount >> 8), UInt8(page.entryCount & 0xFF)] + page.bytes
    }
    var changed = base
    changed[1] = MirrorEntry(path: "a/f", kind: .file(chunks: Array(base[1].chunks.prefix(18)) + [base[3].chunks[0]]), mode: 0o644, modified: base[1].modified)
    changed.remove(at: 2)
    changed.append(MirrorEntry(path: "zz", kind: .directory, mode: 0o700, modified: base[0].modified))
    seeds["diff"] = [4] + ManifestDiff.between(base, changed).encoded()
    seeds["sealed-root"] = [5] + SealedManifestRoot.seal(root.encoded(), for: name)
    let snapshot = try! SnapshotManifest.build(entries: base)
    seeds["snapshot-root"] = [6] + snapshot.root.encoded()
    seeds["snapshot-id"] = [7] + Array(snapshot.id.uri.utf8)
    seeds["snapshot-path"] = [7] + Array((snapshot.id.hex + "/a/f").utf8)
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
