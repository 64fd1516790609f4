import Foundation
import Logging
import NIOCore
import NIOPosix
import PeerDistHashing
import Synchronization
import PeerDistWire
import PeerDistStore
import PeerDistMirror

/// Finds the holders of a discovery key: those heard announcing it, and with `askingTheLAN`
/// those that answer a query; never the node itself (it hears its own announcements and answers).
struct HolderLookup: Sendable {
    let announcements: HolderAnnouncements
    let listening: ListeningAddresses
    let logger: Logger

    /// How long a query that only needs someone to start with (`firstAnswers`) waits for more
    /// answers after the first: holders that answered at about the same time.
    static let firstAnswersSettle: Duration = .milliseconds(10)

    /// - Parameter firstAnswers: return shortly after the first answer to the query instead of
    ///   collecting answers for the whole back-off of the holders (up to 65 ms and some); for a
    ///   fetch that starts on them and asks again soon for the rest.
    func holders(of key: HashValue, askingTheLAN: Bool, firstAnswers: Bool = false) async -> [PeerAddress] {
        let settle = firstAnswers ? Self.firstAnswersSettle : LANDiscovery.answerSettle
        let asked = askingTheLAN ? (try? await LANDiscovery.findHolders(of: key, settle: settle, logger: logger)) ?? [] : []
        let found = asked + announcements.holders(of: key)
        let ownPorts = Set(listening.all.compactMap { PeerAddress(parsing: $0)?.port })
        guard found.contains(where: { ownPorts.contains($0.port) }) else { return found }
        let ownHosts = Set(((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress.map(Self.unscoped) })
        return found.filter { !(ownPorts.contains($0.port) && ownHosts.contains(Self.unscoped($0.host))) }
    }

    private static func unscoped(_ host: String) -> String {
        host.split(separator: "%").first.map(String.init) ?? host
    }
}
