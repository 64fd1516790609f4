import PeerDistHashing

/// A ProbeMatches datagram answering one of this node's Probes, as much of it as a fetch needs:
/// which Probe it answers, where the holder's MS-PCCRR server is, and which segments it holds.
///
/// Read with the same bounded XML reader as Probes, names resolved by namespace; anything that is
/// not a ProbeMatches for PeerDist data is refused.
package struct WSDiscoveryReply: Hashable, Sendable {
    /// The Probe's message ID (`wsa:RelatesTo`).
    package var relatesTo: String
    /// XAddrs, `host:port`: the first address of the first match.
    package var transportAddress: String
    /// The held segments the matches list, with their block counts when given.
    package var segments: [HashValue: Int]

    package struct Malformed: Error, CustomStringConvertible {
        package var description: String
    }

    package init(parsing datagram: some Collection<UInt8>) throws(Malformed) {
        let envelope: XMLReader.Element
        do {
            envelope = try XMLReader.read(datagram, limits: XMLReader.Limits(maximumBytes: WSDiscoveryProbe.maximumDatagramBytes))
        } catch {
            throw Malformed(description: "malformed XML: \(error)")
        }
        guard envelope.name == .init(namespace: PCCRD.Namespace.soap, local: "Envelope"),
              let header = envelope.children(PCCRD.Namespace.soap, "Header").first,
              let body = envelope.children(PCCRD.Namespace.soap, "Body").first
        else { throw Malformed(description: "not a SOAP envelope") }
        let action = header.children(PCCRD.Namespace.addressing, "Action").first?.trimmedText ?? ""
        guard action == PCCRD.Action.probeMatches else { throw Malformed(description: "not ProbeMatches") }
        guard let relatesTo = header.children(PCCRD.Namespace.addressing, "RelatesTo").first?.trimmedText else {
            throw Malformed(description: "no wsa:RelatesTo")
        }
        self.relatesTo = relatesTo
        let matches = body.children(PCCRD.Namespace.discovery, "ProbeMatches").first?.children(PCCRD.Namespace.discovery, "ProbeMatch") ?? []
        var transportAddress: String?
        var segments: [HashValue: Int] = [:]
        for match in matches {
            guard let addresses = match.children(PCCRD.Namespace.discovery, "XAddrs").first?.text.split(whereSeparator: \.isXMLSpace),
                  let first = addresses.first
            else { continue }
            transportAddress = transportAddress ?? String(first)
            let scopes = (match.children(PCCRD.Namespace.discovery, "Scopes").first?.text ?? "").split(whereSeparator: \.isXMLSpace)
            let counts = Array(match.children(PCCRD.Namespace.peerDist, "PeerDistData").first?
                .children(PCCRD.Namespace.peerDist, "BlockCount").first?.trimmedText.utf8 ?? "".utf8)
            for (position, scope) in scopes.prefix(WSDiscoveryProbe.maximumScopes).enumerated() {
                guard let id = HashValue(hex: scope) else { continue }
                let digits = counts.count >= (position + 1) * 8 ? counts[(position * 8)..<((position + 1) * 8)] : []
                segments[id] = Int(String(decoding: digits, as: UTF8.self), radix: 16) ?? 1
            }
        }
        guard let transportAddress else { throw Malformed(description: "no XAddrs") }
        self.transportAddress = transportAddress
        self.segments = segments
    }
}
