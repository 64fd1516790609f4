import PeerDistHashing

extension ContentSource {
    /// How many blocks of the segment with this ID (HoHoDk) the node holds and has verified;
    /// 0 when it holds none. BranchCache discovery reports this count per segment.
    public func heldBlockCount(ofSegment segmentID: HashValue) -> Int {
        guard let segment = segment(withID: segmentID) else { return 0 }
        return heldBlocks(of: segment).reduce(0) { $0 + Int($1.count) }
    }
}
