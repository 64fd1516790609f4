import Foundation
import PeerDistWire
import Testing

@testable import PeerDistCollaboration

/// Fixed moments, so that a card's validity does not depend on when the tests run.
enum Moment {
    /// 2026-01-01T00:00:00Z.
    static let created = Date(timeIntervalSince1970: 1_767_225_600)
    static let duringValidity = created.addingTimeInterval(3600)
}

extension ContactCard {
    /// A card of `name` made at `Moment.created`, valid for twenty years so that decoding it at
    /// the real time (as messages do) works too.
    static func sample(
        _ name: String = "Ada Lovelace", nickname: String = "ada", identity: NodeIdentity = .generate(),
        endpoints: [String] = ["[2001:db8::1]:7740", "[192.0.2.7]:7740"], validity: TimeInterval = 20 * 365 * 24 * 3600
    ) throws -> ContactCard {
        ContactCard(details: try PersonDetails(displayName: name, nickname: nickname), identity: identity, endpoints: endpoints, created: Moment.created, validity: validity)
    }
}

/// Runs `body`, expecting it to throw a `CollaborationError` of `code`; returns the error.
@discardableResult
func expectFailure<Result>(
    _ code: CollaborationError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(CollaborationError) -> Result
) -> CollaborationError? {
    do {
        let result = try body()
        Issue.record("expected a \(code) error, got \(result)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        return error
    }
}

/// Every proper prefix of `bytes`, the empty one included.
func truncations(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    (0..<bytes.count).map { bytes[..<$0] }
}

/// A directory of its own for one test, removed when the test lets go of it.
final class BookScratch: Sendable {
    let path: String

    init() throws {
        path = "\(FileManager.default.temporaryDirectory.path)/peerdist-book-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
