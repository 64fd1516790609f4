/// Which datagrams were seen lately, by a key such as sender and MessageID: SOAP-over-UDP
/// repeats each message up to a few times within about a second, and a receiver answers the
/// first copy only. Bounded in count and in age, so a flood of distinct IDs costs nothing lasting.
struct RecentMessages {
    /// How long a message is remembered: longer than SOAP-over-UDP's repeats (under 1 s), shorter
    /// than a client's own retry after a lost answer.
    static let window: Duration = .seconds(2)
    static let capacity = 256

    private var seen: [String: ContinuousClock.Instant] = [:]

    var count: Int { seen.count }

    /// Whether `key` was not seen within the window; remembers it either way.
    mutating func isNew(_ key: String, at now: ContinuousClock.Instant) -> Bool {
        if seen.count >= Self.capacity {
            seen = seen.filter { now - $0.value < Self.window }
            // Still full: all are fresh, so forget them rather than grow (a copy may be answered twice).
            if seen.count >= Self.capacity { seen.removeAll(keepingCapacity: true) }
        }
        if let last = seen[key], now - last < Self.window { return false }
        seen[key] = now
        return true
    }
}
