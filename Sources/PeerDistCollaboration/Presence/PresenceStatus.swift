/// The eight statuses of Windows' Peer Collaboration, as people type them.
public enum PresenceStatus: String, Codable, CaseIterable, Hashable, Sendable {
    case offline, online, away, busy
    case beRightBack = "be-right-back"
    case onThePhone = "on-the-phone"
    case outToLunch = "out-to-lunch"
    case idle

    /// The byte that carries it on the wire.
    package var code: UInt8 {
        switch self {
        case .offline: 0
        case .online: 1
        case .away: 2
        case .busy: 3
        case .beRightBack: 4
        case .onThePhone: 5
        case .outToLunch: 6
        case .idle: 7
        }
    }

    package init?(code: UInt8) {
        guard let status = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = status
    }

    /// Every status, for an error message that lists what is accepted.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
