import Foundation
import NIOHTTP1

/// What an HTTP request says about BranchCache (MS-PCCRTP 2.2): whether the client takes
/// Content Information instead of the bytes, and which versions of it.
///
/// `Accept-Encoding: peerdist` with `X-P2P-PeerDist: Version=1.0` asks for version 1;
/// `Version=1.1` with `X-P2P-PeerDistEx: MinContentInformation=…, MaxContentInformation=…` for a
/// version in that range. `MissingDataRequest=true` marks a request for bytes that peers lacked.
public struct PeerDistRequest: Hashable, Sendable {
    /// The Content Information version to answer with, or `nil` for the bytes.
    public var contentInformationVersion: Int?
    public var isMissingDataRequest: Bool

    public init(headers: HTTPHeaders) {
        let accepts = headers[canonicalForm: "accept-encoding"].contains { token in
            let parts = token.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == "peerdist" else { return false }
            // `peerdist;q=0` declines it.
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
        let fields = Self.fields(headers["x-p2p-peerdist"])
        isMissingDataRequest = fields["missingdatarequest"]?.lowercased() == "true"
        guard accepts, !isMissingDataRequest, let version = fields["version"].flatMap(Self.version) else {
            contentInformationVersion = nil
            return
        }
        if version < (1, 1) {
            contentInformationVersion = version >= (1, 0) ? 1 : nil
            return
        }
        let extended = Self.fields(headers["x-p2p-peerdistex"])
        let minimum = extended["mincontentinformation"].flatMap(Self.version) ?? (1, 0)
        let maximum = extended["maxcontentinformation"].flatMap(Self.version) ?? (1, 0)
        // Version 1 where the client allows it, as IIS does: every client reads it.
        if minimum <= (1, 0), maximum >= (1, 0) {
            contentInformationVersion = 1
        } else if minimum <= (2, 0), maximum >= (2, 0) {
            contentInformationVersion = 2
        } else {
            contentInformationVersion = nil
        }
    }

    /// `Key=Value, Key=Value` across all the header's lines, keys lower-cased.
    static func fields(_ lines: [String]) -> [String: String] {
        var fields: [String: String] = [:]
        for line in lines {
            for item in line.split(separator: ",") {
                let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2, !pair[0].isEmpty else { continue }
                fields[pair[0].lowercased()] = pair[1]
            }
        }
        return fields
    }

    /// `1.23` as (1, 23): versions compare component by component, so 1.23 is above 1.3.
    static func version(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0 else { return nil }
        return (major, minor)
    }
}
