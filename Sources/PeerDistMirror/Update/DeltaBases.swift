import PeerDistHashing

/// Which chunk a follower offers as the base of each chunk it is missing: the chunk that covered
/// the same offset of the same file in the version it applied. An edit inside a large file
/// changes the one or two chunks around it, and the old chunk at that place differs from the new
/// one by the edit alone, so the new one can travel as a small `ChunkDelta`.
///
/// Only a file that kept some of its chunks counts as edited: one with none in common with its
/// old version was rewritten, and a signature of its old chunks would be sent for nothing (as
/// for most small files, which are one chunk).
///
/// Only references are chosen here; the base's bytes are read (and checked against its hash)
/// when the chunk is asked for, and a base that no longer reads leaves the chunk to be fetched
/// whole.
package struct DeltaBases: Sendable {
    /// Missing chunk's hash → its base.
    let bases: [HashValue: ChunkReference]

    /// Bases for `missing` (chunks of the new version, `target`) from `applied`, the entries of
    /// the version the follower's directory holds; for a chunk with several destinations, the
    /// first one with a base.
    package init(missing: [MirrorUpdate.MissingChunk], applied: [MirrorEntry], target: [MirrorEntry]) {
        guard !applied.isEmpty else {
            // A first mirror: nothing to base a delta on.
            bases = [:]
            return
        }
        let paths = Set(missing.lazy.flatMap(\.destinations).map(\.path))
        var newChunks: [String: Set<HashValue>] = [:]
        for entry in target where paths.contains(entry.path) {
            newChunks[entry.path] = Set(entry.chunks.map(\.hash))
        }
        var oldFiles: [String: OldFile] = [:]
        for entry in applied where !entry.chunks.isEmpty {
            guard let kept = newChunks[entry.path], entry.chunks.contains(where: { kept.contains($0.hash) }) else { continue }
            oldFiles[entry.path] = OldFile(entry.chunks)
        }
        var bases: [HashValue: ChunkReference] = [:]
        for wanted in missing {
            for destination in wanted.destinations {
                guard let old = oldFiles[destination.path]?.chunk(covering: destination.offset), old.hash != wanted.chunk.hash else { continue }
                bases[wanted.chunk.hash] = old
                break
            }
        }
        self.bases = bases
    }

    package func base(of chunk: ChunkReference) -> ChunkReference? {
        bases[chunk.hash]
    }

    /// A file of the applied version: its chunks and where each starts.
    private struct OldFile {
        let chunks: [ChunkReference]
        let starts: [UInt64]
        let size: UInt64

        init(_ chunks: [ChunkReference]) {
            self.chunks = chunks
            var starts: [UInt64] = []
            starts.reserveCapacity(chunks.count)
            var offset: UInt64 = 0
            for chunk in chunks {
                starts.append(offset)
                offset += UInt64(chunk.length)
            }
            self.starts = starts
            size = offset
        }

        /// The chunk whose bytes include `offset`, if the file reaches that far.
        func chunk(covering offset: UInt64) -> ChunkReference? {
            guard offset < size else { return nil }
            // The last chunk starting at or before `offset`.
            var low = 0
            var high = starts.count
            while high - low > 1 {
                let middle = (low + high) / 2
                if starts[middle] <= offset { low = middle } else { high = middle }
            }
            return chunks[low]
        }
    }
}
