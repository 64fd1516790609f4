/// The names MS-PCCRD (BranchCache discovery, a WS-Discovery profile over SOAP 1.2 and UDP)
/// puts on the wire: namespaces, actions, types and matching rules.
enum PCCRD {
    /// Windows peers probe this group (and 239.255.255.250) on this port.
    static let group = "ff02::c"
    static let port = 3702

    enum Namespace {
        static let soap = "http://www.w3.org/2003/05/soap-envelope"
        static let addressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
        static let discovery = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
        static let peerDist = "http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery"
    }

    enum Action {
        static let probe = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
        static let probeMatches = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
    }

    /// Where a Probe is addressed, and where a ProbeMatch is (the reply goes back by unicast).
    static let discoveryDestination = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
    static let anonymousDestination = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

    /// `wsd:Scopes@MatchBy`: version 1 compares scope strings exactly; version 2 has its own rule.
    enum MatchRule {
        static let version1 = "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0"
        static let version2 = "http://schemas.microsoft.com/p2p/2010/05/PeerDistV2MatchingRule"
    }
}
