import Foundation
import FuzzSupport
import PeerDist

/// Lines on the control socket: requests the node decodes (from its owner, but any process of
/// the owner's may write anything) and the events the `peerdist` command decodes from the node.
///
/// The first byte picks which. A request that decodes must encode as the client does to JSON
/// that decodes to the same request; an event must encode to JSON that decodes and encodes to
/// the same JSON (`ControlEvent` has no equality of its own).
func fuzz(_ input: [UInt8]) {
    var bytes = input[...]
    let json = Data(bytes.dropFirst())
    if Fuzzing.take(1, from: &bytes) & 1 == 0 {
        guard let request = try? JSONDecoder().decode(ControlRequest.self, from: json) else { return }
        do {
            let encoded = try encoder.encode(request)
            let again = try JSONDecoder().decode(ControlRequest.self, from: encoded)
            Fuzzing.check(again == request, "decode → encode → decode changed \(request) into \(again)")
        } catch {
            Fuzzing.check(false, "the re-encoded \(request) was refused: \(error)")
        }
    } else {
        guard let event = try? JSONDecoder().decode(ControlEvent.self, from: json) else { return }
        do {
            let encoded = try encoder.encode(event)
            let again = try encoder.encode(try JSONDecoder().decode(ControlEvent.self, from: encoded))
            Fuzzing.check(again == encoded, "decode → encode → decode changed an event: \(String(decoding: encoded, as: UTF8.self))")
        } catch {
            Fuzzing.check(false, "a re-encoded event was refused: \(error)")
        }
    }
}

let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return encoder
}()

func makeSeeds() -> [String: [UInt8]] {
    let id = String(repeating: "ab", count: 32)
    let requests = [
        "status": #"{"op":"status"}"#,
        "publish": #"{"op":"publish","path":"/srv/file.iso","content_version":2}"#,
        "fetch": #"{"op":"fetch","id":"\#(id)","output":"out","peers":["[fe80::1%eth0]:7740","10.0.0.2:7740","host"],"replace":true,"max_download":1000}"#,
        "store-rm": #"{"op":"store-rm","id":"peerdist:\#(String(repeating: "a", count: 52))"}"#,
        "mirror-publish": #"{"op":"mirror-publish","path":"/srv/tree","classifier":"tree","watch":true}"#,
        "mirror-follow": #"{"op":"mirror-follow","id":"\#(String(repeating: "0", count: 40)).tree","path":"/srv/copy"}"#,
        "fetch-url": #"{"op":"fetch-url","url":"http://[fe80::1%eth0]:8000/file.bin","output":"out","hosted_cache":"10.0.0.3:8090","max_download":1000}"#,
        "publish-tree": #"{"op":"publish-tree","path":"/srv/tree"}"#,
        "fetch-tree": #"{"op":"fetch-tree","id":"tree:\#(id)/docs/a.txt","output":"out","peers":["[fe80::1%eth0]:7740"],"replace":false}"#,
        "tree-ls": #"{"op":"tree-ls","id":"peerdist:tree:\#(String(repeating: "a", count: 52))"}"#,
    ]
    let events = [
        "progress": #"{"event":"progress","received_bytes":10,"total_bytes":100,"peer":"[::1]:7740"}"#,
        "result": #"{"event":"result","content_id":"\#(id)","uri":"peerdist:x","bytes_by_peer":{"a":1},"freed_bytes":0}"#,
        "error": #"{"event":"error","message":"no such content \u00e9"}"#,
        "fetch-url-result": #"{"event":"result","path":"/tmp/out","size":100,"from_peers":90,"from_origin":10,"peerdist":true,"rejected_blocks":0}"#,
        "tree": #"{"event":"result","tree":[{"path":"a","kind":"symlink","mode":511,"size":0,"modified_seconds":-1,"modified_nanoseconds":5,"target":"b"}],"tree_summary":{"files":1,"directories":0,"links":1,"bytes":9}}"#,
    ]
    var seeds: [String: [UInt8]] = [:]
    for (name, json) in requests { seeds["request-\(name)"] = [0] + Array(json.utf8) }
    for (name, json) in events { seeds["event-\(name)"] = [1] + Array(json.utf8) }
    return seeds
}

// Last: top-level code runs in order, and the globals above must be set before the first input.
Fuzzing.main(fuzz, seeds: makeSeeds)
