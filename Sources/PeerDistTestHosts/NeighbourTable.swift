import Foundation

/// The kernel's neighbour tables (IPv6 neighbour discovery, IPv4 ARP) are one per machine, shared
/// by every network namespace, and hold at most `gc_thresh3` entries (1 024 by default). Hosts that
/// all speak to each other need up to n × (n − 1) entries: 50 hosts need 2 450. Past the limit the
/// kernel refuses new entries ("neighbor table overflow") and drops the packets that needed them,
/// so connections time out and established ones fall silent for as long as the table stays full,
/// which a LAN of separate machines never sees. `NetworkHosts` makes room for its hosts while they
/// exist and puts the limits back afterwards.
package struct NeighbourTableLimits: Sendable {
    static let families = ["ipv6", "ipv4"]
    static let levels = ["gc_thresh1", "gc_thresh2", "gc_thresh3"]

    private let previous: [String: Int]
    private let raised: [String: Int]

    static func path(_ family: String, _ level: String) -> String { "/proc/sys/net/\(family)/neigh/default/\(level)" }

    /// Raises the limits, where lower, so that `hosts` hosts all speaking to each other fit
    /// twice over; `nil` when nothing needed raising or the limits cannot be written.
    package static func makeRoom(forHosts hosts: Int) -> NeighbourTableLimits? {
        let needed = max(hosts * max(hosts - 1, 0) * 2, 1)
        var previous: [String: Int] = [:], raised: [String: Int] = [:]
        for family in families {
            // gc_thresh1: below it nothing is collected; gc_thresh2: a soft limit; gc_thresh3: the hard one.
            for (level, value) in zip(levels, [needed / 2, needed, needed * 2]) {
                let path = path(family, level)
                guard let current = read(path), current < value, write(value, to: path) else { continue }
                previous[path] = current
                raised[path] = value
            }
        }
        return raised.isEmpty ? nil : NeighbourTableLimits(previous: previous, raised: raised)
    }

    /// Puts back each limit this raised, unless something else changed it since.
    package func restore() {
        for (path, value) in previous where Self.read(path) == raised[path] {
            _ = Self.write(value, to: path)
        }
    }

    /// How many times so far the kernel found the IPv6 neighbour table full (the sum of the
    /// per-processor `table_fulls` of /proc/net/stat/ndisc_cache); `nil` where it cannot be read.
    package static func overflowsSoFar() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/net/stat/ndisc_cache", encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").map { $0.split(separator: " ") }
        guard let header = lines.first, let column = header.firstIndex(of: "table_fulls") else { return nil }
        return lines.dropFirst().reduce(0) { total, fields in
            column < fields.count ? total + (Int(fields[column], radix: 16) ?? 0) : total
        }
    }

    private static func read(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func write(_ value: Int, to path: String) -> Bool {
        (try? "\(value)\n".write(toFile: path, atomically: false, encoding: .utf8)) != nil
    }
}
