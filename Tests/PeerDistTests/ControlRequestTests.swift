import Foundation
import NIOCore
import PeerDistHashing
import PeerDistMirror
import PeerDistWire
import Testing

@testable import PeerDist

/// Control requests travel as one JSON object per line: every case survives the trip, and a line
/// that lacks a value or carries one that does not parse is refused when decoded, naming the field.
struct ControlRequestTests {
    static let id = ContentID(bytes: Array(repeating: 7, count: 32))!
    static let tree = SnapshotID(bytes: Array(repeating: 9, count: 32))!

    static func roundTrip(_ request: ControlRequest) throws -> ControlRequest {
        try ControlSocket.decode(ControlRequest.self, from: try ControlSocket.encode(request))
    }

    @Test func everyRequestSurvivesTheSocket() throws {
        let name = try MirrorName(publisher: NodeIdentity.generate().publicKey, classifier: "docs")
        let requests: [ControlRequest] = [
            .status, .peers, .storeList, .storeCollect, .mirrorStatus,
            .publish(path: "/srv/a.iso", version: .v2),
            .fetch(.init(id: Self.id, peers: [PeerAddress(host: "fe80::1%eth0", port: 7740)], output: "/tmp/a", replace: true, maximumRate: 1_000)),
            .fetch(.init(id: Self.id, output: "/tmp/b")),
            .storeRemove(Self.id),
            .mirrorPublish(directory: "/srv/docs", classifier: "docs", watch: true),
            .mirrorPublish(directory: "/srv/docs", classifier: nil, watch: false),
            .mirrorFollow(name: name, directory: "/srv/copy"),
            .publish(path: "/srv/b", version: .v1, audience: ["bob", "abcd-efgh-ijkl-mnop"]),
            .mirrorPublish(directory: "/srv/docs", classifier: nil, watch: false, audience: ["*"]),
            .people(.setMe(name: "Alice", nickname: nil, email: "a@example.org")),
            .people(.setContact(query: "bob", mayWatchMe: false, watchThem: nil, mayInvite: true)),
            .people(.setPresence(status: .onThePhone, note: "call")),
            .people(.setObject(name: "pic", data: [1, 2, 3], scope: .nearMe)),
            .people(.invite(contact: "bob", subject: .application(name: "chat", data: [104, 105]), message: "talk?", wait: true)),
            .people(.invite(contact: "bob", subject: .content(Self.id.hex), message: "", wait: false)),
            .people(.acceptInvitation(number: 3, output: nil)),
            .people(.setInvitations(policy: .nearMe, lifetime: 60)),
            .people(.events),
            .fetchURL(.init(url: try #require(OriginURL("http://[fe80::1%eth0]:8000/dir/file.bin?x=1")), output: "/tmp/c")),
            .fetchURL(.init(
                url: try #require(OriginURL("http://origin/file.bin")), output: "/tmp/d", replace: true,
                hostedCache: PeerAddress(host: "10.0.0.3", port: 8090), maximumRate: 5_000)),
            .publishTree(path: "/srv/tree"),
            .fetchTree(.init(reference: SnapshotReference(id: Self.tree, path: "a/b.txt"), peers: [PeerAddress(host: "fe80::1%eth0", port: 7740)], output: "/tmp/c", replace: true)),
            .fetchTree(.init(reference: SnapshotReference(id: Self.tree), output: "/tmp/d")),
            .listTree(id: Self.tree, peers: []),
        ]
        for request in requests {
            #expect(try Self.roundTrip(request) == request)
        }
    }

    /// Found by FuzzControl: a bare host with a bracket (`_fe80::1%eth0]:7740`, several colons) was
    /// taken as an IPv6 address, which prints as `[_fe80::1%eth0]:7740]:7740` and so could not
    /// be sent on: the node refused the request the client had accepted.
    /// The seeds of FuzzControl's people requests are requests the node takes.
    @Test(arguments: ["request-people-set-me", "request-people-invite", "request-people-set-object", "request-publish-private"])
    func peopleSeedsDecode(name: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz/Corpus/Control/\(name)")
        let bytes = try Data(contentsOf: url).dropFirst()
        #expect(throws: Never.self) { try ControlSocket.decode(ControlRequest.self, from: ByteBuffer(bytes: bytes)) }
    }

    @Test(arguments: ["_fe80::1%eth0]:7740", "fe80::1]", "[fe80::[1]:7740", "host]:7740", "[x"])
    func peerAddressesWithStrayBracketsAreRefused(text: String) throws {
        #expect(PeerAddress(parsing: text) == nil)
        let line = #"{"op":"fetch","id":"\#(Self.id.hex)","output":"/tmp/a","peers":[\#(String(reflecting: text))]}"#
        let error = try #require(throws: DecodingError.self) {
            try ControlSocket.decode(ControlRequest.self, from: ByteBuffer(string: line))
        }
        #expect("\(error)".contains("not a peer address"), "\(error)")
    }

    @Test(arguments: ["[fe80::1%eth0]:7740", "fe80::1", "10.0.0.2:80", "host", "[::1]"])
    func peerAddressesPrintAsTextThatParsesBack(text: String) throws {
        let address = try #require(PeerAddress(parsing: text))
        #expect(PeerAddress(parsing: address.description) == address)
    }

    @Test func theLineFormatIsOneFlatObject() throws {
        let line = try ControlSocket.encode(ControlRequest.storeRemove(Self.id))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.readableBytesView)) as? [String: String])
        #expect(object == ["op": "store-rm", "id": Self.id.hex])
    }

    @Test(arguments: [
        (#"{"op":"fetch","output":"/tmp/a"}"#, "id"),
        (#"{"op":"fetch","id":"not hex","output":"/tmp/a"}"#, "not a content ID"),
        (#"{"op":"fetch","id":"0707070707070707070707070707070707070707070707070707070707070707","output":"/tmp/a","peers":["no address"]}"#, "not a peer address"),
        (#"{"op":"publish"}"#, "path"),
        (#"{"op":"publish","path":"/a","content_version":3}"#, "content version 3"),
        (#"{"op":"mirror-follow","id":"nodot","path":"/a"}"#, "id"),
        (#"{"op":"launch"}"#, "op"),
        (#"{"op":"fetch-url","url":"ftp://origin/file","output":"/tmp/a"}"#, "not an http:// URL"),
        (#"{"op":"fetch-url","url":"http://origin/file"}"#, "output"),
        (#"{"op":"fetch-url","url":"http://origin/file","output":"/tmp/a","hosted_cache":"no address"}"#, "not an address"),
    ])
    func malformedRequestsAreRefusedWhenDecoded(line: String, mention: String) throws {
        let error = try #require(throws: DecodingError.self) {
            try ControlSocket.decode(ControlRequest.self, from: ByteBuffer(string: line))
        }
        #expect("\(error)".contains(mention), "\(error)")
    }
}
