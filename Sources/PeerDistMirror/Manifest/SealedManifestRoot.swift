import Crypto
import PeerDistHashing

/// A manifest root as it crosses the wire: sealed with AES-256-GCM under the root key of its
/// address (a mirror's name, a snapshot's ID), so only nodes that know the address learn which
/// pages (and so which files) a version holds, whoever relays it.
///
/// `nonce(12) ‖ ciphertext ‖ tag(16)`, with the address's discovery key as associated data.
package enum SealedManifestRoot {
    static let overhead = 12 + 16
    static let maximumSize = ManifestFormat.maximumRootBytes + overhead

    package static func seal(_ encodedRoot: [UInt8], for name: some ManifestAddress) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(encodedRoot, using: SymmetricKey(data: name.rootKey.bytes), authenticating: name.discoveryKey.bytes)
            return Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
        } catch {
            preconditionFailure("AES-GCM rejected a 32-byte key: \(error)")
        }
    }

    package static func open(_ sealed: [UInt8], for name: some ManifestAddress) throws(MirrorError) -> [UInt8] {
        guard sealed.count >= overhead else {
            throw MirrorError(.malformed, "the sealed manifest root of \(name) has \(sealed.count) bytes, too few to be sealed")
        }
        guard sealed.count <= maximumSize else {
            throw MirrorError(.tooLarge, "the sealed manifest root of \(name) has \(sealed.count) bytes, more than any root")
        }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: sealed.prefix(12)), ciphertext: sealed.dropFirst(12).dropLast(16), tag: sealed.suffix(16))
            return Array(try AES.GCM.open(box, using: SymmetricKey(data: name.rootKey.bytes), authenticating: name.discoveryKey.bytes))
        } catch {
            throw MirrorError(.malformed, "the manifest root offered for \(name) is not sealed for that name")
        }
    }
}
