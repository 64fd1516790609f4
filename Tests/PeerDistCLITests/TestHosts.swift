import Foundation
import PeerDistTestHosts
import Testing

/// Namespaces for the tests that run nodes on separate hosts: the trait that skips them where
/// namespaces cannot be made, and names for the two hosts most tests use.
extension Trait where Self == ConditionTrait {
    static var needsNetworkHosts: Self {
        .enabled(if: NetworkHosts.canBeMade, "needs root and `ip`: it makes network namespaces")
    }
}

extension NetworkHosts {
    var first: String { hosts[0].namespace }
    var second: String { hosts[1].namespace }
    var firstInterface: String { hosts[0].interface }
    var secondInterface: String { hosts[1].interface }

    /// `peerdist ARGUMENTS` run inside a namespace.
    func peerdist(in namespace: String, _ arguments: [String]) throws -> CommandResult {
        try Peerdist.run(arguments, namespace: namespace)
    }
}
