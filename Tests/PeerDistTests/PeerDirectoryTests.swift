import Foundation
import PeerDistWire
import Testing
@testable import PeerDist

/// What a node remembers of the nodes it hears on the LAN stays bounded, whoever announces.
@Suite struct PeerDirectoryTests {
    private static func key(_ number: Int) -> PeerKey {
        var bytes = [UInt8](repeating: 0, count: PeerKey.byteCount)
        withUnsafeBytes(of: UInt64(number).bigEndian) { bytes.replaceSubrange(0..<8, with: $0) }
        return PeerKey(bytes)
    }

    /// Anyone can make identities and sign Hellos with them: a flood of strangers must not grow
    /// the directory without end; the nodes heard from most recently are the ones kept.
    @Test func aFloodOfNewIdentitiesIsBounded() {
        let directory = PeerDirectory(maximumEntries: 64, maximumAddresses: 4)
        for number in 0..<5000 {
            directory.heard(Self.key(number), name: "stranger", address: "[fe80::1%eth0]:\(number % 65535 + 1)")
        }
        #expect(directory.all.count == 64)
        #expect(directory.all.contains { $0.fingerprint == Self.key(4999).fingerprint })
        #expect(!directory.all.contains { $0.fingerprint == Self.key(0).fingerprint })
    }

    @Test func theDefaultBoundHoldsToo() {
        let directory = PeerDirectory()
        for number in 0..<3000 {
            directory.heard(Self.key(number), name: "stranger", address: "[::1]:7740")
        }
        #expect(directory.all.count == 1024)
    }

    /// One identity announcing itself from ever new addresses keeps only the latest few.
    @Test func addressesOfOneNodeAreBounded() {
        let directory = PeerDirectory(maximumEntries: 8, maximumAddresses: 4)
        #expect(directory.heard(Self.key(1), name: "a", address: "[::1]:1"))
        for port in 2...100 {
            #expect(!directory.heard(Self.key(1), name: "a", address: "[::1]:\(port)"))
        }
        #expect(directory.all.first?.addresses == ["[::1]:97", "[::1]:98", "[::1]:99", "[::1]:100"])
        // Hearing a known address again keeps it, as the most recent.
        directory.heard(Self.key(1), name: "a", address: "[::1]:98")
        #expect(directory.all.first?.addresses == ["[::1]:97", "[::1]:99", "[::1]:100", "[::1]:98"])
    }

    /// A node that says goodbye is forgotten, and its place is free for another.
    @Test func byeForgets() {
        let directory = PeerDirectory(maximumEntries: 2, maximumAddresses: 2)
        directory.heard(Self.key(1), name: "a", address: "[::1]:1")
        directory.heard(Self.key(2), name: "b", address: "[::1]:2")
        directory.left(Self.key(1))
        directory.heard(Self.key(3), name: "c", address: "[::1]:3")
        #expect(Set(directory.all.map(\.name)) == ["b", "c"])
    }

    /// A node killed before its Bye says no more Hellos: three rounds of silence and it is
    /// forgotten everywhere the directory is read; a node that keeps saying Hello stays.
    @Test func aNodeThatFallsSilentIsForgotten() {
        let directory = PeerDirectory(maximumEntries: 8, maximumAddresses: 2, lifetime: 900)
        let start = Date()
        directory.heard(Self.key(1), name: "killed", address: "[::1]:1", at: start)
        directory.heard(Self.key(2), name: "alive", address: "[::1]:2", at: start)
        for round in 1...3 { directory.heard(Self.key(2), name: "alive", address: "[::1]:2", at: start.addingTimeInterval(Double(round) * 300)) }
        #expect(Set(directory.entries(at: start.addingTimeInterval(899)).map(\.name)) == ["killed", "alive"])
        let later = start.addingTimeInterval(901)
        #expect(directory.entries(at: later).map(\.name) == ["alive"])
        #expect(directory.addresses(of: Self.key(1), at: later).isEmpty)
        #expect(directory.key(withFingerprint: Self.key(1).fingerprint, at: later) == nil)
        // Heard again, it is new again.
        #expect(directory.heard(Self.key(1), name: "killed", address: "[::1]:1", at: later))
    }
}
