import Foundation
import Testing

/// iPXE booted in QEMU on a tap device of the test hosts' bridge, running one script, its console
/// read from the serial line: a real BranchCache client on the link, as a diskless machine would
/// be. Killed when the test lets go of it, whatever happened.
final class IPXEMachine: @unchecked Sendable {
    static let qemu = "/usr/bin/qemu-system-x86_64"
    /// What the script echoes last, when it has run to its end.
    static let doneMarker = "IPXE-SCRIPT-DONE"

    /// An iPXE Linux-kernel image (`.lkrn`) and whether it was built with PeerDist
    /// (HTTP_ENC_PEERDIST), which iPXE's own output does not show.
    struct Image: Sendable, CustomTestStringConvertible {
        let path: String
        let speaksPeerDist: Bool
        let name: String
        var testDescription: String { name }

        /// Debian's (package `ipxe`): built with upstream's default configuration, where
        /// HTTP_ENC_PEERDIST is off: no "peerdist" or "X-P2P-PeerDist" in it.
        static let debian = Image(path: "/usr/lib/ipxe/ipxe.lkrn", speaksPeerDist: false, name: "Debian's iPXE")

        /// Debian's, and the image that `PEERDIST_IPXE_LKRN` names: an iPXE built with
        /// HTTP_ENC_PEERDIST (`scripts/ipxe-peerdist` builds one from an iPXE source tree).
        static var available: [Image] {
            var images = [debian]
            if let path = ProcessInfo.processInfo.environment["PEERDIST_IPXE_LKRN"], !path.isEmpty {
                images.append(Image(path: path, speaksPeerDist: true, name: "iPXE with PeerDist (\(path))"))
            }
            return images
        }
    }

    /// Whether this machine has QEMU and Debian's iPXE (scripts/install-dependencies installs both).
    static var canRun: Bool {
        FileManager.default.isExecutableFile(atPath: qemu) && FileManager.default.fileExists(atPath: Image.debian.path)
    }

    private let process = Process()
    private let consolePath: String

    /// Boots `image` with `script` (iPXE script lines, without the `#!ipxe` line) in network
    /// namespace `namespace`, its one NIC (virtio) on tap `tap`. The script's last line echoes
    /// `doneMarker`.
    init(image: Image, script: [String], namespace: String, tap: String, scratch: String) throws {
        let scriptPath = scratch + "/script.ipxe"
        consolePath = scratch + "/console.txt"
        try (["#!ipxe"] + script + ["echo \(Self.doneMarker)"]).joined(separator: "\n").appending("\n")
            .write(toFile: scriptPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "ip", "netns", "exec", namespace, Self.qemu,
            // TCG, not KVM: on the nested virtual machines this runs on, iPXE under KVM hung right
            // after SeaBIOS's "Booting from ROM"; emulated, it runs the script in seconds.
            "-accel", "tcg", "-m", "256", "-no-reboot",
            // iPXE as a kernel, the script as its initrd: iPXE runs an initrd that starts `#!ipxe`.
            "-kernel", image.path, "-initrd", scriptPath,
            // No display: the serial line on standard output, where SeaBIOS copies the text
            // console (iPXE's, which has no serial console in Debian's build).
            "-nographic", "-monitor", "none",
            "-netdev", "tap,id=link,ifname=\(tap),script=no,downscript=no",
            // No option ROM: the NIC's own iPXE (ipxe-qemu) is not what is tested.
            "-device", "virtio-net-pci,netdev=link,romfile=",
        ]
        process.standardInput = FileHandle.nullDevice
        try process.run(output: consolePath, error: consolePath)
    }

    /// The console so far, without the terminal's escape sequences and carriage returns.
    var console: String {
        let raw = (try? String(contentsOfFile: consolePath, encoding: .utf8)) ?? ""
        return raw.replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]|\u{1B}c|\r", with: "", options: .regularExpression)
    }

    /// Waits until the script has run to its end, for at most `seconds`, then stops the machine;
    /// returns the console. Sleeps as a task, so the wait holds none of the test pool's threads.
    func waitUntilDone(seconds: TimeInterval) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline, !console.contains(Self.doneMarker) {
            try await Task.sleep(for: .milliseconds(100))
        }
        stop()
        return console
    }

    func stop() {
        guard process.isRunning else { return }
        // `ip netns exec` runs QEMU in its place (exec), so this signals QEMU itself.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        stop()
    }
}
