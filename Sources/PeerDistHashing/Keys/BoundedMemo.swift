/// Values derived from keys, remembered for the few keys in use at a time.
///
/// For derivations that repeat while a handful of keys are busy (the segments a connection has
/// in flight) and whose keys then fall out of use: rather than track which were used last, it
/// forgets everything when full, which costs one derivation per key in use afterwards.
public struct BoundedMemo<Key: Hashable, Value> {
    /// Keys remembered at most.
    public let capacity: Int
    private var values: [Key: Value] = [:]

    public init(capacity: Int) {
        precondition(capacity > 0, "a memo must hold at least one value")
        self.capacity = capacity
    }

    /// The value remembered for `key`, if any.
    public subscript(key: Key) -> Value? { values[key] }

    /// Remembers `value` for `key`, first forgetting every value if the memo is full.
    public mutating func remember(_ value: Value, for key: Key) {
        if values[key] == nil, values.count >= capacity { values.removeAll(keepingCapacity: true) }
        values[key] = value
    }

    /// The value for `key`: the remembered one, or `derive(key)`, then remembered.
    public mutating func value(for key: Key, derive: (Key) -> Value) -> Value {
        if let known = values[key] { return known }
        let value = derive(key)
        remember(value, for: key)
        return value
    }

    /// How many values are remembered.
    public var count: Int { values.count }
}

extension BoundedMemo: Sendable where Key: Sendable, Value: Sendable {}
