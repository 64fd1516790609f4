import Crypto
import Foundation
import PeerDistHashing

/// Content Information as it crosses the wire: sealed with AES-256-GCM under a key derived from
/// the content ID, so the segment secrets inside reach only those who know the ID.
///
/// `nonce(12) ‖ ciphertext ‖ tag(16)`, with the discovery key as associated data.
package enum SealedContentInformation {
    /// Largest Content Information a node accepts from a peer: enough for a 2 TiB file in version 1.
    package static let maximumSize = 64 * 1024 * 1024

    package static func seal(_ blob: [UInt8], for id: ContentID) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(blob, using: SymmetricKey(data: id.contentInformationKey.bytes), authenticating: id.discoveryKey.bytes)
            return Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
        } catch {
            preconditionFailure("AES-GCM rejected a 32-byte key: \(error)")
        }
    }

    package static func open(_ sealed: [UInt8], for id: ContentID) throws(WireError) -> [UInt8] {
        guard sealed.count >= 28 else { throw WireError("sealed Content Information is too short") }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: sealed.prefix(12)), ciphertext: sealed.dropFirst(12).dropLast(16), tag: sealed.suffix(16))
            return Array(try AES.GCM.open(box, using: SymmetricKey(data: id.contentInformationKey.bytes), authenticating: id.discoveryKey.bytes))
        } catch {
            throw WireError("the peer's Content Information is not sealed for this content ID")
        }
    }
}
