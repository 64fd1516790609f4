import Testing
@testable import PeerDist

@Suite struct OriginURLTests {
    @Test func originURLsNameTheServerAndThePath() {
        #expect(OriginURL("http://example.org/a/b.iso") == OriginURL(address: PeerAddress(host: "example.org", port: 80), path: "/a/b.iso"))
        #expect(OriginURL("HTTP://10.0.0.1:8000") == OriginURL(address: PeerAddress(host: "10.0.0.1", port: 8000), path: "/"))
        #expect(OriginURL("http://[fe80::1%eth0]:8000/x%20y?z=1") == OriginURL(address: PeerAddress(host: "fe80::1%eth0", port: 8000), path: "/x%20y?z=1"))
        #expect(OriginURL("http://[fd00::1]/f") == OriginURL(address: PeerAddress(host: "fd00::1", port: 80), path: "/f"))
        for refused in ["https://example.org/", "http:///x", "http://user@host/x", "http://host:0/", "http://host:99999/", "ftp://h/", "peerdist:abc", "http://[fe80::1/"] {
            #expect(OriginURL(refused) == nil, "\(refused)")
        }
    }
}
