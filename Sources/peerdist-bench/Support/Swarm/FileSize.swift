import Foundation

/// Sizes of files a leecher is writing, for progress.
enum FileSize {
    /// The length of the file (0 when it does not exist yet).
    static func apparent(_ path: String) -> Int {
        var information = stat()
        return stat(path, &information) == 0 ? Int(information.st_size) : 0
    }

    /// Bytes actually stored: for a sparse file written piece by piece at its place (BitTorrent),
    /// how much has arrived, where its length says nothing.
    static func allocated(_ path: String) -> Int {
        var information = stat()
        return stat(path, &information) == 0 ? Int(information.st_blocks) * 512 : 0
    }

    /// The sum of the lengths of the files in `directory` (rsync writes to a temporary name first).
    static func total(in directory: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.reduce(0) { $0 + apparent("\(directory)/\($1)") }
    }
}
