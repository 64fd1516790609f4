import CSodium

/// libsodium, initialised once before first use.
enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    static func ensureInitialized() {
        // sodium_init fails only when the system cannot provide randomness; nothing secure can follow.
        precondition(initialized, "libsodium could not be initialised")
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        randombytes_buf(&bytes, count)
        return bytes
    }
}
