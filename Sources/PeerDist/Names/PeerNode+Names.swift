import Foundation
import NIOCore
import NIOPosix
import PeerDistDHT
import PeerDistHashing
import PeerDistMirror
import PeerDistWire

/// Peer names beyond the link: a secured name's record is a BEP 44 mutable item under its
/// owner's key with the name's salt, and the nodes registering a name announce themselves under
/// its locator key (`PeerName.locatorKey`), so a resolver that knows only the name finds them.
extension PeerNode {
    /// How often a registration is put on the DHT again (BEP 44 items live about 2 hours) and
    /// how often the node's addresses are checked for changes.
    static let namesRepublishInterval: Duration = .seconds(30 * 60)

    /// Registers `name` (a classifier alone: this node's secured name) and, for global scope,
    /// publishes it at once.
    public func registerName(
        _ text: String, endpoints: [PeerAddress], payload: [UInt8], comment: String, scope: String
    ) async throws -> (name: PeerName, stored: Int) {
        let name = text.contains(".") ? try PeerName(parsing: text) : try PeerName(owner: identity.publicKey, classifier: text)
        guard var scope = NameRegistry.Scope(rawValue: scope) else { throw NodeError(.invalidState, "scope '\(scope)' is not link, global or all") }
        // "all" on a node that is not on the DHT is the link alone; "global" says the DHT is wanted.
        if scope == .all, dht == nil { scope = .link }
        if name.isSecured, !name.isAuthority(of: identity.publicKey) {
            throw NodeError(.invalidState, "\(name) belongs to another key: this node can register \(MirrorName.authority(of: identity.publicKey)).CLASSIFIER or 0.CLASSIFIER")
        }
        guard payload.count <= PeerName.maximumPayloadBytes else {
            throw NodeError(.invalidState, "the payload is \(payload.count) bytes; a name carries at most \(PeerName.maximumPayloadBytes)")
        }
        guard comment.utf8.count <= PeerName.maximumCommentBytes else {
            throw NodeError(.invalidState, "the comment is \(comment.utf8.count) bytes; at most \(PeerName.maximumCommentBytes)")
        }
        if scope.isGlobal {
            guard dht != nil else { throw NodeError(.invalidState, "global scope needs the node to run with `serve --global`") }
            let record = NameRecord(endpoints: endpoints.isEmpty ? currentEndpoints() : endpoints, payload: payload, comment: comment)
            let size = record.bencode.encoded.count
            if name.isSecured, size > KRPCMessage.maximumValueLength {
                throw NodeError(.invalidState, "the record is \(size) bytes bencoded, more than the \(KRPCMessage.maximumValueLength) a DHT item holds: register it with --scope link, or a smaller payload")
            }
        }
        names.register(.init(name: name, fixedEndpoints: endpoints.isEmpty ? nil : endpoints, payload: payload, comment: comment, scope: scope))
        let stored = scope.isGlobal ? await publishName(name) : 0
        return (name, stored)
    }

    public func unregisterName(_ text: String) throws -> PeerName {
        let name = text.contains(".") ? try PeerName(parsing: text) : try PeerName(owner: identity.publicKey, classifier: text)
        guard names.unregister(name) != nil else { throw NodeError(.invalidState, "\(name) is not registered on this node") }
        // The DHT keeps an item until it expires; an empty record with a newer sequence number
        // says the name is gone.
        if name.isSecured, let dht {
            let salt = name.salt
            let key = identity.publicKey.bytes
            Task { _ = try? await dht.putMutable(value: NameRecord(endpoints: []).bencode, key: key, salt: salt, minimumSeq: Self.sequenceNow()) { self.identity.sign($0) } }
        }
        return name
    }

    /// This node's addresses that others can reach, at its peer port: global ones first.
    func currentEndpoints() -> [PeerAddress] {
        guard let port = listeningAddresses.compactMap({ PeerAddress(parsing: $0)?.port }).first else { return [] }
        var addresses: [PeerAddress] = []
        for device in (try? System.enumerateDevices()) ?? [] {
            guard let host = device.address?.ipAddress, host != "127.0.0.1", host != "::1", !host.lowercased().hasPrefix("fe80") else { continue }
            let address = PeerAddress(host: host, port: port)
            if !addresses.contains(address) { addresses.append(address) }
        }
        return addresses.sorted { $0.host.contains(":") && !$1.host.contains(":") }
    }

    /// Seconds since 1970: sequence numbers that keep increasing across restarts.
    static func sequenceNow() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// Puts the name's record on the DHT and announces this node under its locator; returns how
    /// many nodes took the record (or the announcement, for an unsecured name).
    @discardableResult
    func publishName(_ name: PeerName) async -> Int {
        guard let dht, let registration = names.registration(name), registration.scope.isGlobal,
              let port = listeningAddresses.compactMap({ PeerAddress(parsing: $0)?.port }).first
        else { return 0 }
        let record = NameRecord(endpoints: registration.fixedEndpoints ?? currentEndpoints(), payload: registration.payload, comment: registration.comment)
        let announced = await dht.announce(name.locatorKey, port: UInt16(port))
        guard name.isSecured else {
            names.markPublished(name, record: record, sequence: 0, at: .now)
            return announced
        }
        do {
            let put = try await dht.putMutable(
                value: record.bencode, key: identity.publicKey.bytes, salt: name.salt, minimumSeq: max(registration.sequence + 1, Self.sequenceNow())
            ) { identity.sign($0) }
            names.markPublished(name, record: record, sequence: put.item.seq ?? 0, at: .now)
            logger.debug("name put on the DHT", metadata: ["name": "\(name)", "nodes": "\(put.stored)", "seq": "\(put.item.seq ?? 0)"])
            return put.stored
        } catch {
            logger.warning("cannot put a name on the DHT", metadata: ["name": "\(name)", "error": "\(error)"])
            return 0
        }
    }

    /// Keeps global registrations on the DHT: again every 30 minutes, and at once when the
    /// node's addresses change under a registration that follows them.
    func refreshNames() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            for registration in names.all where registration.scope.isGlobal {
                let current = registration.fixedEndpoints ?? currentEndpoints()
                let stale = registration.publishedAt.map { now - $0 > Self.namesRepublishInterval } ?? true
                if stale || registration.published?.endpoints != current { await publishName(registration.name) }
            }
            do { try await Task.sleep(for: .seconds(5)) } catch { return }
        }
    }

    /// The signed record this node answers a link query for `linkKey` with, if it registered it there.
    func linkRecord(for linkKey: HashValue) -> [UInt8]? {
        guard let registration = names.linkRegistration(for: linkKey) else { return nil }
        let record = NameRecord(endpoints: registration.fixedEndpoints ?? currentEndpoints(), payload: registration.payload, comment: registration.comment)
        return record.linkRecord(for: registration.name)
    }

    /// Resolves `name` on the link: signed answers, a secured name's only from its authority's key.
    public func resolveNameOnTheLink(_ name: PeerName) async -> [ResolvedName] {
        let answers = (try? await LANDiscovery.findName(name.linkKey)) ?? []
        return answers.compactMap { answer in
            guard let record = NameRecord(linkRecord: answer.record, for: name) else { return nil }
            if name.isSecured, !name.isAuthority(of: answer.identity) { return nil }
            return ResolvedName(record: record, secured: name.isSecured, source: "link")
        }
    }

    /// A resolved name: its record, who signed it, and where it was found.
    public struct ResolvedName: Sendable {
        public var record: NameRecord
        public var secured: Bool
        public var source: String
        public var sequence: Int64?
    }

    /// Resolves `name` on the DHT: for a secured name, the owner's key (this node's, a key heard
    /// on the LAN, or learnt from the handshake of a node announced under the name's locator,
    /// checked against the authority), then its BEP 44 record; for an unsecured one, the nodes
    /// announced under its locator.
    public func resolveNameGlobally(_ name: PeerName, maximum: Int) async -> [ResolvedName] {
        guard let dht else { return [] }
        if !name.isSecured {
            let found = await dht.findPeers(of: name.locatorKey)
            return found.peers.prefix(maximum).map {
                ResolvedName(record: NameRecord(endpoints: [PeerAddress(host: $0.host, port: Int($0.port))]), secured: false, source: "dht")
            }
        }
        var keys: [PeerKey] = []
        if name.isAuthority(of: identity.publicKey) { keys.append(identity.publicKey) }
        for entry in peerDirectory.all {
            if let key = peerDirectory.key(withFingerprint: entry.fingerprint), name.isAuthority(of: key), !keys.contains(key) { keys.append(key) }
        }
        if keys.isEmpty {
            let located = await dht.findPeers(of: name.locatorKey)
            for endpoint in located.peers.prefix(8) {
                guard let connection = try? await PeerNetwork.connect(host: endpoint.host, port: Int(endpoint.port), identity: identity, timeout: .seconds(3)) else { continue }
                // Only the handshake was wanted: the channel is closed as NIO's async channels must be.
                try? await connection.channel.executeThenClose { _, _ in }
                if name.isAuthority(of: connection.remote) {
                    keys.append(connection.remote)
                    break
                }
            }
        }
        var resolved: [ResolvedName] = []
        for key in keys {
            let found = await dht.getMutable(key: key.bytes, salt: name.salt)
            guard let item = found.item, let record = NameRecord(bencode: item.value), !record.endpoints.isEmpty else { continue }
            resolved.append(ResolvedName(record: record, secured: true, source: "dht", sequence: item.seq))
        }
        return Array(resolved.prefix(maximum))
    }
}
