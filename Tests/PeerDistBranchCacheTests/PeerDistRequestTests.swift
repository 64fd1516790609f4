import NIOHTTP1
import Testing
@testable import PeerDistBranchCache

/// MS-PCCRTP's request headers, as iPXE, IIS's clients and the specification write them, and the
/// byte ranges an origin serves.
@Suite struct PeerDistRequestTests {
    private func version(_ headers: [(String, String)]) -> Int? {
        PeerDistRequest(headers: HTTPHeaders(headers)).contentInformationVersion
    }

    @Test func theHeadersChooseTheVersion() {
        #expect(version([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=1.0")]) == 1)
        // iPXE: 1.1 with a 1.0–2.0 range; version 1, as IIS answers.
        #expect(version([("Accept-Encoding", "gzip, peerdist"), ("X-P2P-PeerDist", "Version=1.1"),
                         ("X-P2P-PeerDistEx", "MinContentInformation=1.0, MaxContentInformation=2.0")]) == 1)
        #expect(version([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=1.1"),
                         ("X-P2P-PeerDistEx", "MinContentInformation=2.0, MaxContentInformation=2.0")]) == 2)
        #expect(version([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=1.1")]) == 1, "1.1 without a range means 1.0")
        // Versions compare by component: 1.23 is above 1.3.
        #expect(version([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=1.23"),
                         ("X-P2P-PeerDistEx", "MinContentInformation=2.0, MaxContentInformation=2.0")]) == 2)
    }

    @Test func bytesWhenTheClientDoesNotAskForContentInformation() {
        #expect(version([("X-P2P-PeerDist", "Version=1.0")]) == nil, "no Accept-Encoding: peerdist")
        #expect(version([("Accept-Encoding", "peerdist")]) == nil, "no X-P2P-PeerDist")
        #expect(version([("Accept-Encoding", "peerdist;q=0"), ("X-P2P-PeerDist", "Version=1.0")]) == nil)
        #expect(version([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=0.9")]) == nil)
        #expect(version([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=one")]) == nil)
        #expect(version([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=1.1"),
                         ("X-P2P-PeerDistEx", "MinContentInformation=3.0, MaxContentInformation=3.0")]) == nil)
        let missing = PeerDistRequest(headers: HTTPHeaders([("Accept-Encoding", "peerdist"), ("X-P2P-PeerDist", "Version=1.1, MissingDataRequest=true")]))
        #expect(missing.isMissingDataRequest && missing.contentInformationVersion == nil)
    }

    @Test func oneByteRangeWithinTheFile() {
        #expect(PCCRTPOriginServer.byteRange("bytes=0-99", size: 1000) == 0..<100)
        #expect(PCCRTPOriginServer.byteRange("bytes=900-", size: 1000) == 900..<1000)
        #expect(PCCRTPOriginServer.byteRange("bytes=900-5000", size: 1000) == 900..<1000)
        #expect(PCCRTPOriginServer.byteRange("bytes=-10", size: 1000) == 990..<1000)
        #expect(PCCRTPOriginServer.byteRange("bytes=-5000", size: 1000) == 0..<1000)
        for refused in ["bytes=1000-", "bytes=5-4", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=-0", "bytes=-"] {
            #expect(PCCRTPOriginServer.byteRange(refused, size: 1000) == nil, "\(refused)")
        }
    }
}
