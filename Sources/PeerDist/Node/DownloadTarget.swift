import Logging
import NIOCore
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistStore

/// Where fetched blocks go: verifies each block against its hash before keeping it, and
/// remembers what it holds so an interrupted fetch resumes.
public protocol DownloadTarget: AnyObject, Sendable {
    func isHeld(segment: Int, block: Int) -> Bool
    /// Keeps the block after checking its hash; throws, keeping nothing, when the hash is wrong.
    func write(segment: Int, block: Int, bytes: UnsafeRawBufferPointer) throws
    var heldBytes: UInt64 { get }
    var totalBytes: UInt64 { get }
}

extension DownloadTarget {
    func write(segment: Int, block: Int, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(segment: segment, block: block, bytes: $0) }
    }
}
