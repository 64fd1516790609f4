import PeerDistWire

/// MSG_NEGO_REQ and MSG_NEGO_RESP: the range of protocol versions a side speaks. A server answers
/// a request in a version it does not speak with its own range, and the client picks the highest
/// major version both share.
public struct PCCRRNegotiation: Hashable, Sendable {
    public var minimumVersion: PCCRRVersion
    public var maximumVersion: PCCRRVersion

    public init(minimumVersion: PCCRRVersion, maximumVersion: PCCRRVersion) {
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
    }

    /// What this node speaks: 1.0, the block messages, and 2.0, GETSEGLIST/SEGLIST.
    public static let supported = PCCRRNegotiation(minimumVersion: .v1, maximumVersion: .v2)

    init(reading reader: inout FieldReader<BranchCacheError>) throws(BranchCacheError) {
        let start = reader.offset
        minimumVersion = PCCRRVersion(
            major: 0, minor: try reader.integer(UInt16.self, "minor of MinSupportedProtocolVersion"))
        minimumVersion.major = try reader.integer(UInt16.self, "major of MinSupportedProtocolVersion")
        maximumVersion = PCCRRVersion(
            major: 0, minor: try reader.integer(UInt16.self, "minor of MaxSupportedProtocolVersion"))
        maximumVersion.major = try reader.integer(UInt16.self, "major of MaxSupportedProtocolVersion")
        guard minimumVersion <= maximumVersion else {
            throw reader.failure("the lowest version \(minimumVersion) is above the highest, \(maximumVersion)", at: start)
        }
    }

    func write(to writer: inout FieldWriter) {
        writer.append(minimumVersion)
        writer.append(maximumVersion)
    }
}
