import Foundation

/// A modification time, seconds and nanoseconds since the epoch.
package struct TreeTime: Equatable, CustomStringConvertible {
    package var seconds: Int
    package var nanoseconds: Int

    package init(seconds: Int, nanoseconds: Int) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// 2026-01-01 00:00:00 UTC: generated times lie in the 30 days after it, changes 40 days after.
    package static let base = 1_767_225_600

    package var timespec: Glibc.timespec { Glibc.timespec(tv_sec: seconds, tv_nsec: nanoseconds) }

    /// "2026-01-05 13:04:11.123456789 UTC".
    package var description: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = [CChar](repeating: 0, count: 32)
        let length = strftime(&text, text.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: text[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) + String(format: ".%09d UTC", nanoseconds)
    }
}
