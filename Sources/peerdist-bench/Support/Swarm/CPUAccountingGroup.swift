import Foundation
import PeerDistCommandSupport

/// A control group that counts the CPU time of every process put into it, and of their children,
/// including processes that have already exited: a client that finished before the count is read
/// (`curl`, `rsync`) still counts, which sampling `/proc/PID/stat` would miss.
///
/// Uses the cgroup v2 hierarchy (`cpu.stat`, at `/sys/fs/cgroup` or, on a hybrid layout,
/// `/sys/fs/cgroup/unified`), else the v1 `cpuacct` controller. No controller is enabled, so the
/// group only counts and never limits.
final class CPUAccountingGroup {
    private enum Layout {
        case version2(String)
        case version1(String)
    }

    private let directory: String
    private let layout: Layout

    /// Creates the group `name`; fails with a one-line reason when this machine has no usable hierarchy.
    init(name: String) throws {
        let files = FileManager.default
        if files.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            layout = .version2("/sys/fs/cgroup")
        } else if files.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.controllers") {
            layout = .version2("/sys/fs/cgroup/unified")
        } else if files.fileExists(atPath: "/sys/fs/cgroup/cpuacct/cpuacct.usage") {
            layout = .version1("/sys/fs/cgroup/cpuacct")
        } else {
            throw CommandFailure("no cgroup hierarchy to count CPU time in (neither cgroup v2 nor the v1 cpuacct controller is mounted under /sys/fs/cgroup)")
        }
        switch layout {
        case .version2(let root), .version1(let root): directory = "\(root)/\(name)"
        }
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw CommandFailure("cannot create the control group \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// `arguments` run as a process that first moves itself into the group, then becomes the
    /// program (same PID, so it can still be stopped by the PID that was started).
    func wrapping(_ arguments: [String]) -> [String] {
        ["sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", "\(directory)/cgroup.procs"] + arguments
    }

    /// User plus system CPU seconds of everything that has run in the group so far.
    var cpuSeconds: Double {
        switch layout {
        case .version2:
            // The line reads "usage_usec 1662222".
            guard let text = try? String(contentsOfFile: "\(directory)/cpu.stat", encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("usage_usec ") }),
                  let microseconds = Double(line.dropFirst("usage_usec ".count))
            else { return 0 }
            return microseconds / 1e6
        case .version1:
            guard let text = try? String(contentsOfFile: "\(directory)/cpuacct.usage", encoding: .utf8),
                  let nanoseconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
            else { return 0 }
            return nanoseconds / 1e9
        }
    }

    /// Kills what is still in the group and removes it; a group can only be removed once empty.
    func remove() {
        for _ in 0..<100 {
            let members = (try? String(contentsOfFile: "\(directory)/cgroup.procs", encoding: .utf8)) ?? ""
            let pids = members.split(separator: "\n").compactMap { pid_t($0) }
            if pids.isEmpty, rmdir(directory) == 0 || errno == ENOENT { return }
            pids.forEach { kill($0, SIGKILL) }
            usleep(20_000)
        }
    }
}
