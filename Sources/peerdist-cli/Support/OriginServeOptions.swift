import ArgumentParser
import PeerDist

/// `serve`'s HTTP origin options: MS-PCCRTP for the files under a directory.
struct OriginServeOptions: ParsableArguments {
    @Option(name: .customLong("http-origin"), help: ArgumentHelp(
        "Serve the files under this directory over HTTP, handing BranchCache clients (Accept-Encoding: peerdist) their Content Information.",
        valueName: "dir"))
    var directory: String?

    @Option(name: .customLong("http-listen"), help: ArgumentHelp("Address and port of the HTTP origin.", valueName: "[addr]:port"))
    var listen = "[::]:8080"

    @OptionGroup(title: "HTTP origin server secret (default: content-addressed, the segment IDs PeerDist nodes derive)")
    var secret: SecretOptions

    func validate() throws {
        guard PeerAddress(parsing: listen, listening: true) != nil else {
            throw ValidationError("--http-listen takes [address]:port, e.g. [::]:8080 or 0.0.0.0:80.")
        }
    }

    /// The origin to run, or `nil` without --http-origin.
    func origin() throws -> HTTPOrigin? {
        guard let directory, let address = PeerAddress(parsing: listen, listening: true) else { return nil }
        return HTTPOrigin(directory: directory, listen: address, secret: try secret.serverSecret())
    }
}
