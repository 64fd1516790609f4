import PeerDistHashing

/// Whether each segment (or file) a node serves compresses, decided once, on the first block of
/// it served, and remembered for every connection: zstd is then not tried again on content that
/// did not compress (random or already-compressed data, the common case for large files), and is
/// tried on every block of content that did.
///
/// A segment of content whose first block served did not shrink by `BlockSealer.minimumSaving`
/// is sent uncompressed even where later blocks would have shrunk: a wrong guess costs bytes on
/// the wire, never correctness.
package final class CompressibilityBook: Sendable {
    /// Subjects remembered at most; past that the book starts afresh (each decision costs one
    /// attempt to make again).
    package static let capacity = 65_536

    private let verdicts = PThreadMutex<[HashValue: Bool]>([:])

    package init() {}

    /// Whether `subject` was found to compress; nil when it is not decided yet.
    package func verdict(on subject: HashValue) -> Bool? {
        verdicts.withLock { $0[subject] }
    }

    /// The zstd frame of `block`, part of `subject` (a segment ID, or a content's identifier),
    /// when the subject compresses and the block shrinks enough; nil otherwise. The first block
    /// of a subject decides for the rest.
    package func compress(_ block: UnsafeRawBufferPointer, of subject: HashValue, with compressor: BlockCompressor) -> [UInt8]? {
        if verdict(on: subject) == false { return nil }
        let frame = compressor.attempt(block, savingAtLeast: BlockSealer.minimumSaving)
        verdicts.withLock { verdicts in
            guard verdicts[subject] == nil else { return }
            if verdicts.count >= Self.capacity { verdicts.removeAll() }
            verdicts[subject] = frame != nil
        }
        return frame
    }
}
