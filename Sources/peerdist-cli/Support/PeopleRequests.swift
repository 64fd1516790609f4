import ArgumentParser
import Foundation
import PeerDist
import PeerDistCollaboration
import PeerDistCommandSupport

extension NodeOptions {
    /// Sends a people request to the node running on the data directory; with none running,
    /// carries it out on the data directory when it needs no network, and otherwise says to
    /// start a node.
    func askPeople(_ request: PeopleRequest, onEvent: (ControlEvent) throws -> Void = { _ in }) async throws -> PeopleReply {
        if let reply = try await askRunningNode(.people(request), onEvent: onEvent) { return reply.people ?? PeopleReply() }
        guard !request.needsRunningNode else {
            throw CommandFailure("no node is running on \(directory.path); start one with `peerdist serve` (this needs the network)")
        }
        do {
            return try await NodeRunner.open(self).people(request)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

/// Shared wording of the people commands' output.
enum PeopleText {
    static func status(_ status: PresenceStatus?) -> String { status?.rawValue ?? "-" }

    static func age(_ date: Date) -> String {
        let seconds = max(0, Int(Date().timeIntervalSince(date)))
        if seconds < 60 { return "\(seconds)s ago" }
        if seconds < 3600 { return "\(seconds / 60)m ago" }
        return "\(seconds / 3600)h ago"
    }

    /// "Alice (abcd-efgh-ijkl-mnop)".
    static func person(_ name: String, _ fingerprint: String) -> String { "\(name) (\(fingerprint))" }
}

/// "on" and "off" as a command-line value.
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
    var isOn: Bool { self == .on }
}

/// "allow" and "block" as a command-line value.
enum Permission: String, ExpressibleByArgument, CaseIterable {
    case allow, block
    var allows: Bool { self == .allow }
}

extension PresenceStatus: ExpressibleByArgument {}
extension PublishedObject.Scope: ExpressibleByArgument {}
extension InvitationPolicy: ExpressibleByArgument {}
