import Foundation
import PeerDistCommandSupport

/// OpenSSL's own measurement of a digest's raw speed on 16 KiB buffers, in MB/s.
enum OpenSSLSpeed {
    /// With `processes` above 1, the combined speed of that many processes (`openssl speed -multi`):
    /// the most this machine's cores deliver together.
    static func measure(_ digest: String, processes: Int = 1) -> Double? {
        let multi = processes > 1 ? ["-multi", "\(processes)"] : []
        guard let output = try? ChildProcess.run(["openssl", "speed"] + multi + ["-evp", digest, "-bytes", "16384", "-seconds", "3"]) else {
            return nil
        }
        // The result line reads "sha256   1746973.26k": thousands of bytes per second.
        for line in output.split(separator: "\n") where line.hasPrefix(digest) {
            if let field = line.split(separator: " ").last, field.hasSuffix("k"), let thousands = Double(field.dropLast()) {
                return thousands / 1000
            }
        }
        return nil
    }
}
